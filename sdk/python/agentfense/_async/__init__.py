"""The async API (grpc.aio): AsyncSandbox, AsyncSandboxClient, AsyncSession.

Same surface as the sync one, with coroutines:

    async with await AsyncSandbox.from_local("./project") as sandbox:
        result = await sandbox.run("pytest")
        async with sandbox.session() as session:
            await session.exec("cd /workspace/backend")
"""

from .client import AsyncSandboxClient
from .sandbox import AsyncSandbox
from .session import AsyncSession
from .stream import AsyncExecStream

__all__ = ["AsyncSandbox", "AsyncSandboxClient", "AsyncSession", "AsyncExecStream"]
