#!/usr/bin/env python3
"""The code-bytes rule's text side in Python (the same rule as src/quant/code_text.cpp).

usage: code_strip.py excluded EXCLUDES_FILE < paths   -> the paths not excluded
       code_strip.py strip DEST_DIR < paths            -> DEST_DIR/<path> = <path> stripped
A path (also its name inside the archive) picks the comment syntax.
"""
import os
import sys

C_EXTS = (".h", ".hpp", ".c", ".cc", ".cpp", ".cu", ".cuh")
RAW_PREFIXES = ("R", "u8R", "uR", "UR", "LR")


def ident(c):
    return c.isascii() and (c.isalnum() or c == "_")


def syntax(name):
    base = name.rsplit("/", 1)[-1]
    n = base[:-3] if base.endswith(".in") else base
    if n.endswith(C_EXTS):
        return "c"
    if base == "CMakeLists.txt" or base.endswith((".cmake", ".txt")):
        return "hash"
    return "none"


def quoted_end(t, i, q):
    j = i + 1
    while j < len(t) and t[j] != q and t[j] != "\n":
        j += 2 if t[j] == "\\" else 1
    return j + 1 if j < len(t) and t[j] == q else min(j, len(t))


def raw_end(t, i, where):
    op = t.find("(", i + 1)
    if op < 0:
        sys.exit(f"{where}: raw string literal without '('")
    close = ")" + t[i + 1:op] + '"'
    end = t.find(close, op + 1)
    if end < 0:
        sys.exit(f"{where}: unterminated raw string literal")
    return end + len(close)


def trim(out, kept):
    while len(out) > kept and out[-1] in " \t":
        out.pop()


def strip_c(t, where):
    out, kept, in_number, i = [], 0, False, 0
    while i < len(t):
        c = t[i]
        nxt = t[i + 1] if i + 1 < len(t) else ""
        if c == "/" and nxt == "/":
            while i < len(t) and t[i] != "\n":
                i += 1
            continue
        if c == "/" and nxt == "*":
            end = t.find("*/", i + 2)
            if end < 0:
                sys.exit(f"{where}: unterminated /* comment")
            lines = t.count("\n", i + 2, end)
            if lines == 0:
                out.append(" ")
            for _ in range(lines):
                trim(out, kept)
                out.append("\n")
            i, in_number = end + 2, False
            continue
        end = 0
        if c == '"':
            k = i
            while k > 0 and ident(t[k - 1]):
                k -= 1
            end = raw_end(t, i, where) if t[k:i] in RAW_PREFIXES else quoted_end(t, i, '"')
        elif c == "'" and not in_number:
            end = quoted_end(t, i, "'")
        if end > 0:
            out.extend(t[i:end])
            kept, i, in_number = len(out), end, False
            continue
        if c == "\n":
            trim(out, kept)
        if not in_number and "0" <= c <= "9" and (i == 0 or not ident(t[i - 1])):
            in_number = True
        elif in_number and not ident(c) and c not in ".'":
            in_number = False
        out.append(c)
        i += 1
    trim(out, kept)
    return "".join(out)


def strip_hash(t):
    lines = t.split("\n")
    keep = []
    for line in lines:
        s = line.lstrip(" \t")
        keep.append("" if s.startswith("#") and not s.startswith("#[") else line)
    return "\n".join(keep)


def main():
    if sys.argv[1] == "excluded":
        with open(sys.argv[2], encoding="utf-8") as f:
            pre = [l.rstrip(" \t\r\n") for l in f]
        pre = [p for p in pre if p and not p.startswith("#")]
        for path in sys.stdin.read().splitlines():
            if not any(path.startswith(p) for p in pre):
                print(path)
        return
    dest = sys.argv[2]
    for name in sys.stdin.read().splitlines():
        with open(name, "rb") as f:
            data = f.read()
        kind = syntax(name)
        if kind != "none":
            text = data.decode("utf-8", errors="surrogateescape")
            text = strip_c(text, name) if kind == "c" else strip_hash(text)
            data = text.encode("utf-8", errors="surrogateescape")
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)

if __name__ == "__main__":
    main()
