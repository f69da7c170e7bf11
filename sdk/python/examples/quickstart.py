"""The spec's minimal example: upload a project, run one command, clean up.

    python quickstart.py [PROJECT_DIR]     (default ./my-project)
"""
import sys

from agentfense import Sandbox

project = sys.argv[1] if len(sys.argv) > 1 else "./my-project"

# Simplest possible usage
with Sandbox.from_local(project) as sandbox:
    result = sandbox.run("ls -la")
    print(result.stdout)
