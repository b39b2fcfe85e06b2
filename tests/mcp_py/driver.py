"""A real third-party MCP client for tests/mcp/: the official Python SDK (PyPI `mcp`).

    driver.py stdio BIN ROOT CHANNEL ROLE [ARG…]  # spawns `BIN --root ROOT mcp --channel CHANNEL --as ROLE ARG…`
    driver.py http URL TOKEN                 # streamable HTTP with `Authorization: Bearer TOKEN`

Reads one JSON command per line on stdin and answers each with one JSON line on stdout:

    {"op": "tools"}                               -> {"tools": [{"name", "description", "input_schema"}]}
    {"op": "call", "tool": T, "args": {...}}      -> {"started": T} at once, then
                                                     {"is_error", "structured", "text"} or {"error": {"code", "message"}}
    {"op": "resources"}                           -> {"resources": [{"uri", "name", "mime_type"}]}
    {"op": "resource", "uri": U}                  -> {"text": ...} or {"error": ...}

After initialize it prints {"ready": {"server": NAME, "protocol": VERSION}}; a failure to
connect prints {"fatal": MESSAGE} and exits 1.
"""

import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def flatten(exc):
    """The messages of an exception and of everything it groups or wraps."""
    parts = [f"{type(exc).__name__}: {exc}"]
    for inner in getattr(exc, "exceptions", []) or []:
        parts.append(flatten(inner))
    if exc.__cause__ is not None:
        parts.append(flatten(exc.__cause__))
    return " | ".join(parts)


async def serve_commands(session):
    init = await session.initialize()
    say({"ready": {"server": init.server_info.name, "protocol": str(init.protocol_version),
                   "instructions": init.instructions}})
    stdin = anyio.wrap_file(sys.stdin)
    async for line in stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "tools":
                listed = await session.list_tools()
                say({"tools": [{"name": t.name, "description": t.description,
                                "input_schema": t.input_schema} for t in listed.tools]})
            elif op == "call":
                say({"started": cmd["tool"]})
                result = await session.call_tool(cmd["tool"], cmd.get("args") or {})
                text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                say({"is_error": bool(result.is_error), "structured": result.structured_content,
                     "text": text})
            elif op == "resources":
                listed = await session.list_resources()
                say({"resources": [{"uri": str(r.uri), "name": r.name, "mime_type": r.mime_type}
                                   for r in listed.resources]})
            elif op == "resource":
                read = await session.read_resource(cmd["uri"])
                say({"text": "".join(getattr(c, "text", "") for c in read.contents)})
            else:
                say({"error": {"code": None, "message": f"unknown op {op}"}})
        except MCPError as e:
            say({"error": {"code": e.error.code, "message": e.error.message}})


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        bin_, root, channel, role = sys.argv[2:6]
        params = StdioServerParameters(
            command=bin_,
            args=["--root", root, "mcp", "--channel", channel, "--as", role] + sys.argv[6:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await serve_commands(session)
    elif mode == "http":
        url, token = sys.argv[2:4]
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            async with streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await serve_commands(session)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    try:
        anyio.run(main)
    except BaseException as e:  # noqa: BLE001 - the test reads the reason
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        say({"fatal": flatten(e)})
        sys.exit(1)
