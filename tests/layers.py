"""Checks that lib/ keeps its layers: each file includes only its own layer's headers, those of
the layers below it, and lib/'s root, always by their path from lib/ (never "../").

The layers, bottom up, as docs/architecture.md names them. Usage: layers.py SOURCE_ROOT
"""
import pathlib
import re
import sys

LAYERS = ["codec", "shm", "transport", "channel", "process", "api", "pool"]
# A layer's operating-system backends, one folder each: the implementations of its platform.hpp,
# which Meson picks one of. Nothing includes a file in them, and they include no other backend.
BACKENDS = ["linux", "posix"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def main():
    lib = pathlib.Path(sys.argv[1]) / "lib"
    problems = []
    folders = {p.name for p in lib.iterdir() if p.is_dir()}
    for unknown in sorted(folders - set(LAYERS)):
        problems.append(f"lib/{unknown}/ is no layer of docs/architecture.md (add it to LAYERS, in its place)")
    for layer in sorted(folders & set(LAYERS)):
        for sub in sorted(p for p in (lib / layer).iterdir() if p.is_dir()):
            if sub.name not in BACKENDS:
                problems.append(f"lib/{layer}/{sub.name}/ is no backend ({', '.join(BACKENDS)}): a layer has no other sub-folders")
            elif not (lib / layer / "platform.hpp").exists():
                problems.append(f"lib/{layer}/{sub.name}/ implements no lib/{layer}/platform.hpp")
            for header in sorted(sub.glob("*.hpp")):
                problems.append(f"lib/{header.relative_to(lib)}: a backend has no headers; its interface is lib/{layer}/platform.hpp")
    for path in sorted(lib.rglob("*.[ch]pp")):
        relative = path.relative_to(lib)
        own = relative.parts[0] if len(relative.parts) > 1 else None
        for included in INCLUDE.findall(path.read_text(encoding="utf-8")):
            if included.startswith("../") or "/../" in included:
                problems.append(f"lib/{relative}: includes \"{included}\": name it by its path from lib/")
                continue
            parts = pathlib.PurePosixPath(included).parts
            if len(parts) > 2 and parts[1] in BACKENDS:
                problems.append(f"lib/{relative}: includes \"{included}\" of a backend: include the layer's platform.hpp")
                continue
            if len(parts) == 1:
                if own is None or (lib / included).exists():
                    continue  # lib/'s root, which every layer may use
                problems.append(f"lib/{relative}: includes \"{included}\", which is not in lib/'s root")
                continue
            target = parts[0]
            if target not in LAYERS or own is None:
                continue
            if LAYERS.index(target) > LAYERS.index(own):
                problems.append(f"lib/{relative}: the {own} layer includes \"{included}\" of the {target} layer above it")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in lib/'s layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
