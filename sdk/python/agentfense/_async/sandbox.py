"""AsyncSandbox: the async high-level handle (same surface as Sandbox)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import (Any, Awaitable, Generator, Generic, Iterable, List,
                    Mapping, Optional, Sequence, TypeVar, Union)

from .. import _common, _upload
from ..exceptions import AgentFenseError
from ..presets import DEFAULT_PRESET
from ..types import (Change, Codebase, CommitResult, ExecResult, ResourceLimits,
                     RuleLike, RuntimeType, SandboxFileInfo, SandboxInfo, Timeout,
                     UploadSummary)
from .client import AsyncSandboxClient
from .session import AsyncSession
from .stream import AsyncExecStream

log = logging.getLogger("agentfense")

T = TypeVar("T")


class _Opening(Generic[T]):
    """Both `await x` and `async with x as y`: from_local and session()
    work either way (`async with await AsyncSandbox.from_local(...)` too)."""

    def __init__(self, coro: Awaitable[T]) -> None:
        self._coro = coro
        self._obj: Any = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._coro.__await__()

    async def __aenter__(self) -> T:
        self._obj = await self._coro
        return await self._obj.__aenter__()

    async def __aexit__(self, *exc) -> bool:
        return await self._obj.__aexit__(*exc)


class AsyncSandbox(_common.SandboxState[AsyncSandboxClient]):
    """As agentfense.Sandbox, with coroutines; `async with` cleans up."""

    def __init__(self, client: AsyncSandboxClient, info: SandboxInfo, *,
                 owns_sandbox: bool, owns_codebase: bool, owns_client: bool,
                 upload: Optional[UploadSummary] = None) -> None:
        super().__init__(client, info, owns_sandbox=owns_sandbox,
                         owns_codebase=owns_codebase, owns_client=owns_client,
                         upload=upload)

    # -- construction -----------------------------------------------------

    @classmethod
    def from_local(cls, path: Union[str, "os.PathLike[str]"],
                   preset: Optional[str] = DEFAULT_PRESET,
                   permissions: Optional[Iterable[RuleLike]] = None,
                   runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                   resources: Optional[ResourceLimits] = None,
                   endpoint: Optional[str] = None, **kw) -> "_Opening[AsyncSandbox]":
        """Sandbox.from_local's arguments; await it, or use it in `async with`."""
        return _Opening(cls._from_local(path, preset, permissions, runtime, image,
                                        resources, endpoint, **kw))

    @classmethod
    async def _from_local(cls, path, preset, permissions, runtime, image, resources,
                          endpoint, *, secure: bool = False, owner_id: Optional[str] = None,
                          codebase_name: Optional[str] = None,
                          labels: Optional[Mapping[str, str]] = None,
                          expires_in: Timeout = None, auto_start: bool = True,
                          client: Optional[AsyncSandboxClient] = None,
                          ignore_patterns: Optional[Sequence[str]] = None,
                          use_gitignore: bool = True, use_default_ignores: bool = True,
                          max_file_size: Optional[int] = None,
                          on_large_file: str = "warn", compression: str = "auto",
                          progress: _upload.Progress = None,
                          commit_after_exec: bool = False) -> "AsyncSandbox":
        root, rules = _common.local_args(path, preset, permissions)
        c = client or AsyncSandboxClient(endpoint, secure=secure)
        async with _AsyncUndo(c, close_client=client is None) as undo:
            limits = await c.get_upload_limits()
            scan = await asyncio.get_running_loop().run_in_executor(None, lambda: _upload.plan(
                root, limits, ignore_patterns=ignore_patterns, use_gitignore=use_gitignore,
                use_default_ignores=use_default_ignores, max_file_size=max_file_size,
                on_large_file=on_large_file))
            undo.codebase_id = (await c.create_codebase(
                *_common.new_codebase_args(root, codebase_name, owner_id))).id
            summary = await c.upload_scan(undo.codebase_id, scan, compression=compression,
                                          progress=progress)
            info = await undo.open_sandbox(undo.codebase_id, auto_start, permissions=rules,
                                           labels=labels, expires_in=expires_in,
                                           runtime=runtime, image=image, resources=resources,
                                           commit_after_exec=commit_after_exec)
        return cls(c, info, owns_sandbox=True, owns_codebase=True,
                   owns_client=client is None, upload=summary)

    @classmethod
    def from_codebase(cls, codebase_id: str, preset: Optional[str] = DEFAULT_PRESET,
                      permissions: Optional[Iterable[RuleLike]] = None,
                      runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                      resources: Optional[ResourceLimits] = None,
                      endpoint: Optional[str] = None, **kw) -> "_Opening[AsyncSandbox]":
        return _Opening(cls._from_codebase(codebase_id, preset, permissions, runtime,
                                           image, resources, endpoint, **kw))

    @classmethod
    async def _from_codebase(cls, codebase_id, preset, permissions, runtime, image,
                             resources, endpoint, *, secure: bool = False,
                             labels: Optional[Mapping[str, str]] = None,
                             expires_in: Timeout = None, auto_start: bool = True,
                             client: Optional[AsyncSandboxClient] = None,
                             commit_after_exec: bool = False) -> "AsyncSandbox":
        c = client or AsyncSandboxClient(endpoint, secure=secure)
        async with _AsyncUndo(c, close_client=client is None) as undo:
            info = await undo.open_sandbox(
                codebase_id, auto_start, permissions=permissions,
                preset=_common.preset_or_default(preset), labels=labels,
                expires_in=expires_in, runtime=runtime, image=image, resources=resources,
                commit_after_exec=commit_after_exec)
        return cls(c, info, owns_sandbox=True, owns_codebase=False,
                   owns_client=client is None)

    @classmethod
    def connect(cls, sandbox_id: str, endpoint: Optional[str] = None, *,
                secure: bool = False) -> "_Opening[AsyncSandbox]":
        return _Opening(cls._connect(sandbox_id, endpoint, secure))

    @classmethod
    async def _connect(cls, sandbox_id: str, endpoint: Optional[str],
                       secure: bool) -> "AsyncSandbox":
        c = AsyncSandboxClient(endpoint, secure=secure)
        try:
            info = await c.get_sandbox(sandbox_id)
        except BaseException:
            await c.close()
            raise
        return cls(c, info, owns_sandbox=False, owns_codebase=False, owns_client=True)

    # -- state (id, status, info... in _common.SandboxState) ---------------

    async def codebase(self) -> Codebase:
        if self._codebase is None:
            self._codebase = await self._client.get_codebase(self.codebase_id)
        return self._codebase

    async def refresh(self) -> "AsyncSandbox":
        self._info = await self._client.get_sandbox(self.id)
        return self

    async def start(self) -> "AsyncSandbox":
        self._info = await self._client.start_sandbox(self.id)
        return self

    async def stop(self) -> "AsyncSandbox":
        self._info = await self._client.stop_sandbox(self.id)
        return self

    # -- commands ---------------------------------------------------------

    async def run(self, command: str, timeout: Timeout = None,
                  env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
                  raise_on_error: bool = False) -> ExecResult:
        result = await self.exec(command, env=env, workdir=workdir, timeout=timeout)
        return result.raise_on_error() if raise_on_error else result

    async def exec(self, command: str, stdin: Union[str, bytes, None] = None,
                   env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
                   timeout: Timeout = None) -> ExecResult:
        return await self._client.exec(self.id, command, stdin=stdin, env=env,
                                       workdir=workdir, timeout=timeout)

    def exec_stream(self, command: str, stdin: Union[str, bytes, None] = None,
                    env: Optional[Mapping[str, str]] = None,
                    workdir: Optional[str] = None, timeout: Timeout = None) -> AsyncExecStream:
        return self._client.exec_stream(self.id, command, stdin=stdin, env=env,
                                        workdir=workdir, timeout=timeout)

    def session(self, shell: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None) -> "_Opening[AsyncSession]":
        """`async with sandbox.session() as s:` or `s = await sandbox.session()`."""
        return _Opening(self._client.session(self.id, shell=shell, env=env))

    # -- files, through the sandbox's view --------------------------------

    async def read_file_bytes(self, path: str) -> bytes:
        return await self._client.read_sandbox_file(self.id, path)

    async def read_file(self, path: str, encoding: str = "utf-8") -> str:
        return (await self.read_file_bytes(path)).decode(encoding, errors="replace")

    async def write_file(self, path: str, content: Union[str, bytes]) -> None:
        wpath, data, env = _common.write_request(path, content)
        result = await self.exec(_common.WRITE_SCRIPT, stdin=data, env=env)
        err = _common.write_error(result, wpath, self.id)
        if err:
            raise err

    async def list_files(self, path: str = "/",
                         recursive: bool = False) -> List[SandboxFileInfo]:
        return await self._client.list_sandbox_files(self.id, path, recursive)

    async def changes(self) -> List[Change]:
        return await self._client.list_changes(self.id)

    async def commit(self, paths: Optional[Sequence[str]] = None,
                     dry_run: bool = False) -> CommitResult:
        return await self._client.commit_changes(self.id, paths, dry_run)

    # -- teardown ---------------------------------------------------------

    async def destroy(self, delete_codebase: Optional[bool] = None) -> None:
        if self._destroyed:
            return
        errors: List[BaseException] = []
        try:
            for remove, ident, tolerated in self._removals(delete_codebase):
                try:
                    await remove(ident)
                except tolerated:
                    pass
                except AgentFenseError as exc:
                    errors.append(exc)
            self._destroyed = True
        finally:
            if self._owns_client:
                await self._client.close()
        if errors:
            raise errors[0]

    async def close(self) -> None:
        if self._owns_sandbox:
            await self.destroy()
        elif self._owns_client:
            await self._client.close()

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        try:
            await self.close()
        except AgentFenseError:
            if _common.should_raise_cleanup_error(exc_type, "cleanup of sandbox %s failed", self.id):
                raise
        return False

    def __repr__(self) -> str:
        return f"AsyncSandbox(id={self.id!r}, status={self.status.value})"


class _AsyncUndo(_common.UndoState[AsyncSandboxClient]):
    """As sandbox._Undo: remove what a failed construction created
    (cancellation and KeyboardInterrupt included)."""

    async def open_sandbox(self, codebase_id: str, auto_start: bool, **create) -> SandboxInfo:
        info = await self.client.create_sandbox(codebase_id, **create)
        self.sandbox_id = info.id
        return await self.client.start_sandbox(info.id) if auto_start else info

    async def __aenter__(self) -> "_AsyncUndo":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        for remove, ident, warning in self._removals():
            try:
                await remove(ident)
            except AgentFenseError:
                log.warning(warning, ident, exc_info=True)
        if self.close_client:
            await self.client.close()
        return False
