#!/usr/bin/env python3
"""Headers go down, never up (docs/architecture.md, "Layers").

The layer_check_LAYER programs refuse a call into a layer above; this
refuses an #include of one. src/meson.build passes the tables, the one
place they are written down:

  --layer L:A,B     layer L and the layers it calls directly (the layer
                    table, bottom up); L may use what they use in turn
  --headers L:x.h,y.h  the include/mvm/ headers of layer L (the header
                    table); every header must be in one
  --folder F:L      src/F is of layer L (a folder named after its layer
                    needs none)

Every .c and .h under src/FOLDER/ and every include/mvm/*.h may include
"mvm/X.h" only when X.h belongs to its own layer or to one below it (the
layers it calls, and theirs, transitively). Otherwise it fails with one
line per include: the file, the header and the two layers.
"""
import argparse
import os
import re
import sys

# Upward includes known and not removed yet: (file, header) -> why. Each
# must still occur (a stale entry fails too), so the list stays true.
KNOWN_EXCEPTIONS = {
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"mvm/([^"]+)"')


def pairs(values, what):
    out = []
    for v in values:
        name, sep, rest = v.partition(':')
        if not sep or not name:
            sys.exit(f'check_layer_includes: bad {what} {v!r}')
        out.append((name, [x for x in rest.split(',') if x]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True)
    ap.add_argument('--include', required=True, help='include/mvm')
    ap.add_argument('--layer', action='append', default=[])
    ap.add_argument('--headers', action='append', default=[])
    ap.add_argument('--folder', action='append', default=[])
    a = ap.parse_args()

    calls = dict(pairs(a.layer, '--layer'))
    for layer, below in calls.items():
        for b in below:
            if b not in calls:
                sys.exit(f'check_layer_includes: {layer} calls unknown '
                         f'layer {b}')

    def reach(layer, seen=None):
        seen = set() if seen is None else seen
        if layer not in seen:
            seen.add(layer)
            for b in calls[layer]:
                reach(b, seen)
        return seen

    below = {layer: reach(layer) for layer in calls}

    header_layer = {}
    for layer, hs in pairs(a.headers, '--headers'):
        if layer not in calls:
            sys.exit(f'check_layer_includes: headers of unknown layer '
                     f'{layer}')
        for h in hs:
            if h in header_layer:
                sys.exit(f'check_layer_includes: {h} is in two layers, '
                         f'{header_layer[h]} and {layer}')
            header_layer[h] = layer
    folder_layer = {f: ls[0] for f, ls in pairs(a.folder, '--folder')}

    errors = []
    found = set()

    def check(path, shown, layer):
        with open(path, encoding='utf-8', errors='replace') as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                h = m.group(1)
                hl = header_layer.get(h)
                if hl is None:
                    errors.append(f'{shown}:{n}: includes mvm/{h}, which '
                                  f'is in no layer of the header table '
                                  f'(src/meson.build)')
                elif hl not in below[layer]:
                    if (shown, 'mvm/' + h) in KNOWN_EXCEPTIONS:
                        found.add((shown, 'mvm/' + h))
                        continue
                    errors.append(f'{shown}:{n}: includes mvm/{h} of '
                                  f'layer {hl}, above its own layer '
                                  f'{layer}')

    for h in sorted(os.listdir(a.include)):
        if not h.endswith('.h'):
            continue
        if h not in header_layer:
            errors.append(f'include/mvm/{h}: in no layer of the header '
                          f'table (src/meson.build)')
            continue
        check(os.path.join(a.include, h), f'include/mvm/{h}',
              header_layer[h])

    for folder in sorted(os.listdir(a.src)):
        top = os.path.join(a.src, folder)
        if not os.path.isdir(top):
            continue
        layer = folder_layer.get(folder, folder)
        if layer not in calls:
            errors.append(f'src/{folder}: in no layer (add a --folder '
                          f'in src/meson.build)')
            continue
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(('.c', '.h')):
                    path = os.path.join(root, name)
                    shown = 'src/' + os.path.relpath(path, a.src)
                    check(path, shown, layer)

    for stale in sorted(set(KNOWN_EXCEPTIONS) - found):
        errors.append(f'{stale[0]}: no longer includes {stale[1]}: drop '
                      f'it from KNOWN_EXCEPTIONS '
                      f'(scripts/check_layer_includes.py)')

    for e in errors:
        print(e)
    if errors:
        return 1
    print(f'layer includes: {len(header_layer)} headers in '
          f'{len(calls)} layers, no include goes up')
    return 0


if __name__ == '__main__':
    sys.exit(main())
