"""Compiles and links every whole program the documentation shows.

A ```cpp block of README.md or docs/*.md that has an `int main` is a whole program: it is
built as a user would build it, against the public headers and the library of this build,
with nothing else on the include path. A block that fails to compile fails the test, naming
its file and line. Blocks without main are fragments and are left alone.

Usage: docs_programs.py SOURCE_ROOT BUILD_ROOT LIBRARY_DIR COMPILER...
"""
import concurrent.futures
import pathlib
import re
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"^```cpp[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def programs(source_root):
    files = [source_root / "README.md"] + sorted((source_root / "docs").glob("*.md"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            code = match.group(1)
            if re.search(r"\bint\s+main\s*\(", code):
                line = text.count("\n", 0, match.start()) + 1
                yield f"{path.relative_to(source_root)}:{line}", code


def main():
    source_root, build_root, library_dir = (pathlib.Path(a) for a in sys.argv[1:4])
    compiler = sys.argv[4:]
    json_flags = subprocess.run(["pkg-config", "--cflags", "nlohmann_json"], capture_output=True,
                                text=True).stdout.split()
    found = list(programs(source_root))
    if not found:
        print("no program found in the docs")
        return 1
    with tempfile.TemporaryDirectory() as work:
        def build(index, where, code):
            source = pathlib.Path(work) / f"program_{index}.cpp"
            source.write_text(code, encoding="utf-8")
            command = compiler + [
                "-std=c++20", "-Wall", "-Wextra", f"-I{source_root / 'include'}",
                f"-I{build_root / 'include'}", *json_flags, str(source),
                f"-L{library_dir}", f"-Wl,-rpath,{library_dir}", "-lforkipc", "-pthread",
                "-o", str(source.with_suffix("")),
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            return where, result.returncode, result.stderr

        failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [pool.submit(build, i, where, code) for i, (where, code) in enumerate(found)]
            for job in jobs:
                where, status, errors = job.result()
                print(f"{'ok  ' if status == 0 else 'FAIL'} {where}")
                if status != 0:
                    failed += 1
                    print(errors[-6000:])
                elif errors.strip():
                    print(errors[-2000:])  # warnings: shown, not failed on
    print(f"{len(found) - failed} of {len(found)} documented programs compile and link")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
