#!/usr/bin/env python3
"""Checks of the house rules that no compiler checks (docs/ARCHITECTURE.md):

1. no import cycle between the files of `service/src` or of `api/src` (edges: every `crate::…` and
   `super::…` path a file names, resolved to the file of the module it reaches);
2. the service speaks no HTTP: `StatusCode`, `http::` and `actix` appear nowhere in `service/`;
3. every file path that docs/ARCHITECTURE.md names exists;
4. no non-test source file over 500 lines.

Prints what it measured; exits 1 on the first rule broken."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
failed = []


def module_files(src):
    """{module path tuple: file} of one crate's src directory."""
    mods = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def strip_comments(text):
    """The code of a file without its comments, strings and character literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            j = text.find('"' + hashes, i + len(hashes) + 2)
            i = n if j < 0 else j + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4] + "    "):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(path_text):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (one level of text, recursively)."""
    path_text = re.sub(r"\s+", "", path_text)
    m = re.match(r"^(.*?)\{(.*)\}$", path_text)
    if not m:
        return [path_text]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    out = []
    for p in parts:
        out.extend(expand(prefix + p))
    return out


def paths_in(text):
    """Every `crate::…`/`super::…`/`self::…` path of a file, `use` groups expanded."""
    found = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]*);", text):
        found.extend(expand(m.group(1)))
    for m in re.finditer(r"(?<![:\w])((?:crate|super)(?:::\w+)+)", text):
        found.append(m.group(1))
    return found


def resolve(mods, here, path):
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    else:
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    best = None
    for i in range(len(segs) + 1):
        cand = tuple(base + segs[:i])
        if cand in mods:
            best = cand
    return best


def cycles(crate):
    src = ROOT / crate / "src"
    mods = module_files(src)
    graph = {}
    for mod, f in mods.items():
        text = strip_comments(f.read_text())
        # a file's own `#[cfg(test)]` module (at its end, by the house's habit) is a test, not the file
        text = text.split("#[cfg(test)]")[0]
        # a file declared as `mod x;` inside a `#[cfg(test)]` is a test: its imports do not count
        edges = set()
        for p in paths_in(text):
            target = resolve(mods, list(mod), p)
            if target is not None and target != mod:
                edges.add(target)
        graph[mod] = edges
    # strongly connected components (Tarjan)
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return mods, sccs


def is_test_file(f):
    return f.name == "tests.rs" or "/tests/" in str(f)


for crate in ("service", "api"):
    mods, sccs = cycles(crate)
    print(f"{crate}/src: {len(mods)} files, {len(sccs)} import cycles")
    for comp in sccs:
        names = sorted(str(mods[m].relative_to(ROOT)) for m in comp)
        failed.append(f"import cycle in {crate}/src: {' <-> '.join(names)}")

# The calculations are pure: nothing under service/src/calc reaches a resource module, the database, a
# clock or an await.
calc_src = ROOT / "service" / "src" / "calc"
allowed = ("calc", "error", "fields")
impure = []
mods = module_files(ROOT / "service" / "src")
for f in sorted(calc_src.rglob("*.rs")):
    text = strip_comments(f.read_text())
    here = f.relative_to(ROOT / "service" / "src").with_suffix("")
    here = [p for p in here.parts if p != "mod"]
    for p in paths_in(text):
        target = resolve(mods, here, p)
        if target is not None and target and target[0] not in allowed:
            impure.append(f"{f.relative_to(ROOT)} reaches {'/'.join(target)}")
    for word in (".await", "Utc::now", "sea_orm::Database", "DatabaseConnection", "now()"):
        if word in text:
            impure.append(f"{f.relative_to(ROOT)} uses {word}")
print(f"service/src/calc: {len(list(calc_src.rglob('*.rs')))} files, {len(impure)} impure references")
failed.extend(f"calc is not pure: {x}" for x in sorted(set(impure)))

http_words = re.compile(r"StatusCode|\bhttp::|actix")
hits = []
for f in (ROOT / "service").rglob("*"):
    if f.suffix in (".rs", ".toml") and "target" not in f.parts:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if http_words.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
print(f"service/: {len(hits)} mentions of StatusCode, http:: or actix")
failed.extend(f"HTTP in the service: {h}" for h in hits)

arch = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
named = set()
for m in re.finditer(r"`([\w./-]+\.(?:rs|md|yaml|py|sh|toml|sql))`", arch):
    named.add(m.group(1))
for m in re.finditer(r"`((?:api|service|entity|migration|tests|bench|docs|examples)/[\w./-]*)`", arch):
    named.add(m.group(1))
missing = []
for name in sorted(named):
    bases = [ROOT / b for b in ("docs", "migration/src", "entity/src", "tests")]
    bases += [d for c in ("service/src", "api/src") for d in [ROOT / c, *(ROOT / c).rglob("*")] if d.is_dir()]
    candidates = [ROOT / name] + [base / name for base in bases]
    if not any(c.exists() for c in candidates):
        missing.append(name)
print(f"docs/ARCHITECTURE.md: {len(named)} file paths named, {len(missing)} missing")
failed.extend(f"docs/ARCHITECTURE.md names {m}, which does not exist" for m in missing)

long = []
for crate in ("entity", "migration", "service", "api", "tests/src"):
    for f in (ROOT / crate).rglob("*.rs"):
        if "target" in f.parts or is_test_file(f):
            continue
        n = len(f.read_text().splitlines())
        if n > 500:
            long.append(f"{f.relative_to(ROOT)} ({n} lines)")
print(f"non-test source files over 500 lines: {len(long)}")
failed.extend(f"over 500 lines: {x}" for x in long)

if failed:
    print("\n".join(failed), file=sys.stderr)
    sys.exit(1)
print("architecture: all checks pass")
