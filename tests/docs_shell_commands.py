"""The shell commands the documentation shows, as a reader would type them.

Read from fenced ```bash / ```sh / ```shell / ```console blocks (a ``console`` block's commands are
its ``$ `` lines); backslash continuations are joined and a trailing ``# comment`` is dropped. An
untagged fence or an indented block whose line starts like a command is reported, so that a command
cannot hide from tests/test_docs_commands.py by its formatting.
"""
import dataclasses
import pathlib
import re

SHELL_FENCES = {"bash", "sh", "shell", "console"}
# where the docs live, relative to the repository root
DOC_GLOBS = ("README.md", "docs/*.md", "projects/*/README.md", "datasets/README.md")
# how a command line starts (an interpreter, a tool, make); used to find commands outside shell fences
COMMAND_START = re.compile(r"^(\.venv/bin/|python\d?\b|tools/|bench/|make\b|torchrun\b|PYTHONPATH=|/usr/bin/time\b)")
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)")


@dataclasses.dataclass(frozen=True)
class DocCommand:
    path: str  # relative to the repository root
    line: int  # 1-based line of the command's first physical line
    text: str  # the command, continuations joined, comment dropped

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclasses.dataclass(frozen=True)
class CodeBlock:
    path: str
    line: int  # line of the opening fence (or of the first indented line)
    lang: str  # '' for an untagged fence, 'indented' for an indented block
    lines: tuple  # (line number, text) pairs


def doc_files(root: pathlib.Path) -> list:
    files = []
    for pattern in DOC_GLOBS:
        files.extend(sorted(root.glob(pattern)))
    return files


def strip_comment(line: str) -> str:
    """The line without a trailing ``# comment``: a ``#`` that starts a shell word outside quotes."""
    quote, previous = None, " "
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and previous.isspace():
            return line[:i].rstrip()
        previous = ch
    return line.rstrip()


def code_blocks(root: pathlib.Path, path: pathlib.Path) -> list:
    """Fenced blocks (any language) and indented blocks outside fences, in file order."""
    rel = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    previous_blank = True
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            start, lang, body = i + 1, fence.group(2).lower(), []
            i += 1
            while i < len(lines) and not FENCE.match(lines[i]):
                body.append((i + 1, lines[i]))
                i += 1
            blocks.append(CodeBlock(rel, start, lang, tuple(body)))
            i += 1
            previous_blank = False
            continue
        if previous_blank and lines[i].startswith("    ") and lines[i].strip() and not lines[i].lstrip().startswith(("-", "*", "|")):
            start, body = i + 1, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append((i + 1, lines[i][4:]))
                i += 1
            blocks.append(CodeBlock(rel, start, "indented", tuple(body)))
            previous_blank = False
            continue
        previous_blank = not lines[i].strip()
        i += 1
    return blocks


def block_commands(block: CodeBlock) -> list:
    """The commands of one shell block: ``$ `` lines of a console block, every non-comment line otherwise."""
    commands, pending, pending_line = [], "", None
    for number, raw in block.lines:
        text = raw.strip()
        if block.lang == "console" and not pending:
            if not text.startswith("$ "):
                continue  # output
            text = text[2:]
        if not pending and (not text or text.startswith("#")):
            continue
        if pending_line is None:
            pending_line = number
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        command = strip_comment(pending + text)
        if command:
            commands.append(DocCommand(block.path, pending_line, command))
        pending, pending_line = "", None
    if pending:
        commands.append(DocCommand(block.path, pending_line, strip_comment(pending)))
    return commands


def doc_commands(root: pathlib.Path) -> list:
    """Every command of every shell fence of the docs, in file order."""
    commands = []
    for path in doc_files(root):
        for block in code_blocks(root, path):
            if block.lang in SHELL_FENCES:
                commands.extend(block_commands(block))
    return commands


def commands_outside_shell_fences(root: pathlib.Path) -> list:
    """Lines of untagged fences or indented blocks that look like commands: ``path:line: text``."""
    found = []
    for path in doc_files(root):
        for block in code_blocks(root, path):
            if block.lang in ("", "indented"):
                found.extend(f"{block.path}:{n}: {t.strip()}" for n, t in block.lines if COMMAND_START.match(t.strip()))
    return found


def fenced_text(root: pathlib.Path, rel_path: str, lang: str, first_line: str) -> str:
    """The body of the ``lang`` fence of ``rel_path`` whose first line is ``first_line`` (for the README's example files)."""
    for block in code_blocks(root, root / rel_path):
        if block.lang == lang and block.lines and block.lines[0][1].strip() == first_line:
            return "\n".join(t for _, t in block.lines) + "\n"
    raise LookupError(f"{rel_path}: no ```{lang} block starting with {first_line!r}")
