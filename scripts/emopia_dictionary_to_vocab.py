#!/usr/bin/env python3
"""Convert EMOPIA's dictionary.pkl to an emopia-ts vocab.json.

EMOPIA (annahung31/EMOPIA, dataset/co-representation/dictionary.pkl) pickles a pair (event2word, word2event):
dicts keyed by family name ('tempo', 'chord', 'bar-beat', 'type', 'pitch', 'duration', 'velocity', 'emotion'),
mapping value -> index and index -> value. The vocab.json keeps every family's values in index order, so the
indices of EMOPIA's words stay the same in emopia-ts.

Usage: python3 scripts/emopia_dictionary_to_vocab.py dictionary.pkl -o vocab.json

Only plain Python values (and numpy integer scalars) are unpickled; anything else is refused.
"""
import argparse
import json
import numbers
import os
import pickle
import sys

FAMILIES = ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']
EMOPIA_NAMES = {'barbeat': 'bar-beat'}


class SafeUnpickler(pickle.Unpickler):
    """Allows the builtins a dictionary holds and numpy integer scalars, nothing else."""

    ALLOWED = {
        ('builtins', 'dict'), ('builtins', 'list'), ('builtins', 'tuple'), ('builtins', 'int'), ('builtins', 'str'),
        ('numpy', 'dtype'), ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'refusing to unpickle {module}.{name}: a dictionary holds only names and numbers')
        return super().find_class(module, name)


def fail(msg):
    print(f'emopia_dictionary_to_vocab: {msg}', file=sys.stderr)
    sys.exit(1)


def plain(value, where):
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    fail(f'{where}: expected a string or an integer, got {value!r}')


def convert(obj):
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2 and all(isinstance(d, dict) for d in obj)):
        fail('expected a pickled pair (event2word, word2event)')
    event2word, word2event = obj
    if 'emotion' not in word2event:
        fail('no emotion family: this is a CP (7-family) dictionary, not an EMOPIA one; its type indices differ')
    values = {}
    for fam in FAMILIES:
        key = EMOPIA_NAMES.get(fam, fam)
        if key not in word2event or key not in event2word:
            fail(f'family {key!r} missing; got {sorted(word2event)}')
        w2e = word2event[key]
        n = len(w2e)
        if sorted(int(i) for i in w2e) != list(range(n)):
            fail(f'family {key!r}: expected indices 0..{n - 1}, got {sorted(w2e)}')
        vals = [plain(w2e[i], f'{key}[{i}]') for i in range(n)]
        for i, v in enumerate(vals):
            back = event2word[key].get(v, event2word[key].get(str(v)))
            if back is None or int(back) != i:
                fail(f'family {key!r}: event2word and word2event disagree on {v!r}')
        values[fam] = vals
    return {'format': 'emopia-ts/vocab', 'version': 1, 'families': FAMILIES, 'values': values}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dictionary', help="EMOPIA's dictionary.pkl")
    ap.add_argument('-o', '--output', required=True, help='vocab.json to write')
    args = ap.parse_args()
    try:
        with open(args.dictionary, 'rb') as f:
            obj = SafeUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        fail(f'{args.dictionary}: {err}')
    vocab = convert(obj)
    # Written beside the target and renamed over it, so an interrupted run leaves no half-written vocab.json.
    tmp = f'{args.output}.tmp-{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(vocab, f)
        f.write('\n')
    os.replace(tmp, args.output)
    sizes = [len(vocab['values'][fam]) for fam in FAMILIES]
    print(f'wrote {args.output}: sizes {sizes}')


if __name__ == '__main__':
    main()
