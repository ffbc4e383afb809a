#!/usr/bin/env python3
"""Size limits of fedrad's code (issue 16): files of at most 700 lines and
C++ functions of at most 120 lines.

    tools/check_sizes.py [--root DIR] [--max-file-lines 700] [--max-function-lines 120]

Prints every source file longer than the file limit (`path: N lines`) and
every C++ function body longer than the function limit
(`path:line name N lines`), first for the held folders (coordinator/,
site_node/, report/, features/, core/), then, separately, for the rest of the
tree. Exits 1 when a limit is broken in a held folder, 0 otherwise; the rest
of the tree is a work list and never fails the check. Registered with CTest
as `size_limits`.

A function is found by a brace-matching heuristic on the text with comments,
string and character literals removed: a `{` opened at namespace or class
scope whose preceding text ends like a parameter list (`)` then qualifiers
such as const/override/noexcept, a trailing return type, or a constructor's
initialiser list). Its length counts the lines from the start of its
declaration to the closing brace. Lambdas and local classes inside a function
count as part of it. Uses only the Python standard library.
"""

import argparse
import bisect
import os
import re
import sys

HELD_DIRS = ("coordinator", "site_node", "report", "features", "core")
SOURCE_EXTS = (".cc", ".h", ".cpp", ".hpp", ".proto")
CXX_EXTS = (".cc", ".h", ".cpp", ".hpp")
SKIP_DIRS = {".git", "build", "tests/data", ".ci"}

# Text between a function's `)` and its `{`: cv/ref qualifiers, noexcept,
# override/final, a trailing return type.
_AFTER_PARAMS = re.compile(
    r"\)\s*(?:(?:const|volatile|override|final|noexcept(?:\s*\([^()]*\))?|mutable|&&|&)\s*)*"
    r"(?:->\s*[\w:<>,\s\*&]+)?\s*$")
# A constructor's initialiser list: `Foo::Foo(args) : a_(x), b_{y}`.
_INIT_LIST = re.compile(r"\)\s*(?:noexcept\s*)?:(?!:)")
_SCOPE_KEYWORDS = re.compile(r"(?:^|\s)(namespace|class|struct|union|enum|extern\s+\"C\")\b")
_ACCESS = re.compile(r"(?:\s*(?:public|private|protected)\s*:(?!:))+")
_CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else|return|try)\b")
_NAME_BEFORE_PAREN = re.compile(r"((?:[A-Za-z_~][\w]*\s*::\s*)*(?:operator\s*[^\s(]+|~?[A-Za-z_]\w*))\s*$")


def strip_code(text):
    """Returns `text` with comments, string and char literals blanked out
    (newlines kept, so offsets and line numbers stay the same)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and i + 1 < n and text[i + 1] == '"' and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            # Raw string literal R"delim( ... )delim".
            k = text.find("(", i + 2)
            delim = text[i + 2:k] if k >= 0 else ""
            end = text.find(")" + delim + '"', k + 1) if k >= 0 else -1
            j = n if end < 0 else end + len(delim) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):
            # A quote after a digit/letter is a digit separator (1'000), not a literal.
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c if j - i >= 2 else text[i:j])
            i = j
        elif c == "#" and (i == 0 or text[i - 1] == "\n" or text[:i].rsplit("\n", 1)[-1].strip() == ""):
            # Preprocessor line (with continuations): blank it.
            j = i
            while True:
                k = text.find("\n", j)
                if k < 0:
                    k = n
                    break
                if text[k - 1] == "\\":
                    j = k + 1
                    continue
                break
            out.append(re.sub(r"[^\n]", " ", text[i:k]))
            i = k
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _match_brace(code, open_pos):
    """Index of the `}` closing the `{` at open_pos (len(code) if unbalanced)."""
    depth = 0
    for k in range(open_pos, len(code)):
        ch = code[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code)


def _function_name(header):
    """The (qualified) name before the header's parameter list, or ''."""
    depth = 0
    for k, ch in enumerate(header):
        if ch == "(":
            if depth == 0:
                m = _NAME_BEFORE_PAREN.search(header[:k])
                if m and m.group(1) not in ("if", "for", "while", "switch", "catch", "return", "sizeof",
                                             "decltype", "alignas", "noexcept"):
                    name = re.sub(r"\s+", "", m.group(1))
                    if re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                        # A macro such as TEST_F(Suite, Name): its arguments name it.
                        end = header.find(")", k)
                        return name + re.sub(r"\s+", " ", header[k:end + 1])
                    return name
            depth += 1
        elif ch == ")":
            depth -= 1
    return ""


def find_functions(code):
    """Yields (start_offset, end_offset, name) for every function body found
    at namespace or class scope of the stripped source `code`."""
    results = []

    def scan(lo, hi):
        header_start = lo
        pos = lo
        while pos < hi:
            ch = code[pos]
            if ch in ";}":
                header_start = pos + 1
                pos += 1
                continue
            if ch != "{":
                pos += 1
                continue
            access = _ACCESS.match(code, header_start, pos)
            if access:
                header_start = access.end()
            header = code[header_start:pos]
            stripped = header.strip()
            close = _match_brace(code, pos)
            is_scope = bool(_SCOPE_KEYWORDS.search(stripped)) and "(" not in stripped.split("{")[0].split("=")[0]
            if _INIT_LIST.search(stripped) and re.search(r"[\w>]\s*$", stripped):
                # A member's brace initialiser inside a constructor's initialiser
                # list (`b_{y}`): part of the header, keep going.
                pos = close + 1
                continue
            if is_scope:
                scan(pos + 1, close)
                header_start = close + 1
                pos = close + 1
                continue
            is_function = (stripped and not _CONTROL.match(stripped) and not stripped.endswith("=")
                           and (_AFTER_PARAMS.search(stripped) or _INIT_LIST.search(stripped)))
            if is_function:
                lead = len(header) - len(header.lstrip())
                results.append((header_start + lead, close, _function_name(stripped) or stripped[:40]))
            # A function body, an initialiser or an unknown block: skip it whole.
            header_start = close + 1
            pos = close + 1

    scan(0, len(code))
    return results


def line_starts(text):
    """Offsets of the newlines of `text`, for line_of."""
    return [m.start() for m in re.finditer("\n", text)]


def line_of(newlines, offset):
    """1-based line number of `offset`, given line_starts() of the text."""
    return bisect.bisect_left(newlines, offset) + 1


def check_file(path, rel, max_file, max_function):
    """Returns (file_problems, function_problems) of one file as lists of strings."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    n_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    file_problems = []
    if n_lines > max_file:
        file_problems.append(f"{rel}: {n_lines} lines (limit {max_file})")
    function_problems = []
    if rel.endswith(CXX_EXTS):
        code = strip_code(text)
        newlines = line_starts(code)
        for start, end, name in find_functions(code):
            first = line_of(newlines, start)
            last = line_of(newlines, end)
            length = last - first + 1
            if length > max_function:
                function_problems.append((length, f"{rel}:{first} {name} {length} lines (limit {max_function})"))
    return file_problems, [p for _, p in sorted(function_problems, key=lambda x: -x[0])]


def walk(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(d for d in dirnames
                             if os.path.join(rel_dir, d) not in SKIP_DIRS and d not in SKIP_DIRS
                             and not d.startswith("build") and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SOURCE_EXTS):
                yield os.path.join(dirpath, name), os.path.join(rel_dir, name)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--max-file-lines", type=int, default=700)
    parser.add_argument("--max-function-lines", type=int, default=120)
    parser.add_argument("--known", default="",
                        help="a file of known, open violations ('PATH' or 'PATH FUNCTION' per line, "
                             "# comments): reported, not failed; one that no longer violates fails "
                             "until it is taken off the list")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    known = set()
    if args.known:
        with open(args.known) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    known.add(" ".join(line.split()))

    held = {"files": [], "functions": []}
    rest = {"files": [], "functions": []}
    for path, rel in walk(root):
        files, functions = check_file(path, rel, args.max_file_lines, args.max_function_lines)
        bucket = held if rel.split(os.sep)[0] in HELD_DIRS else rest
        bucket["files"] += files
        bucket["functions"] += functions

    def show(title, bucket):
        print(f"== {title}")
        print(f"files longer than {args.max_file_lines} lines: {len(bucket['files'])}")
        for line in bucket["files"]:
            print("  " + line)
        print(f"functions longer than {args.max_function_lines} lines: {len(bucket['functions'])}")
        for line in bucket["functions"]:
            print("  " + line)

    def key(entry):
        # "path:line name N lines (...)" -> "path name"; "path: N lines (...)" -> "path"
        head, _, tail = entry.partition(" ")
        path = head.split(":", 1)[0]
        return path if head.endswith(":") else f"{path} {tail.split(' ', 1)[0]}"

    listed = {"files": [], "functions": []}
    for kind in ("files", "functions"):
        listed[kind] = [e for e in held[kind] if key(e) in known]
        held[kind] = [e for e in held[kind] if key(e) not in known]
    stale = sorted(known - {key(e) for kind in listed for e in listed[kind]})
    show("held folders (" + ", ".join(d + "/" for d in HELD_DIRS) + "): these fail the check", held)
    if known:
        show(f"known, open violations ({args.known})", listed)
    show("rest of the tree (reported, not enforced)", rest)
    for entry in stale:
        print(f"FAIL: '{entry}' is on the known list but keeps the limits now: take it off the list")
    broken = len(held["files"]) + len(held["functions"]) + len(stale)
    if broken:
        print(f"FAIL: {broken} limit(s) broken in the held folders; split the file or function "
              "by responsibility (docs/architecture.md says where each part goes).")
        return 1
    open_count = len(listed["files"]) + len(listed["functions"])
    if open_count:
        print(f"OK: no violation in the held folders beyond the {open_count} known, open one(s) "
              "listed above (issue 16's remaining work).")
    else:
        print("OK: the held folders keep the size limits.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
