#!/usr/bin/env python3
"""A hostile-input pass over flatter-experiment and xtask (issue 17).
Each case runs a command and records: exit code, whether it panicked or aborted,
and the first error line. Prints a markdown table."""
import os, re, shutil, signal, subprocess, sys, tempfile, time, gzip, json, glob
ROOT = '/work/main'
BIN = f'{ROOT}/target/release/flatter-experiment'
XTASK = f'{ROOT}/target/xtask/debug/xtask'
T = tempfile.mkdtemp(prefix='hostile-')
rows = []

def run(cmd, env=None, timeout=300, cwd=ROOT):
    e = dict(os.environ); e.update(env or {})
    try:
        p = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 'timeout', '', ''

def verdict(code, err):
    if code == 'timeout': return 'STUCK (timeout)'
    if code in (101,) or 'panicked' in err: return 'PANIC'
    if code in (134, -6, 137, -9) or 'memory allocation' in err: return 'ABORT'
    return 'ok' if code == 0 else 'error'

def first_err(err, out=''):
    for line in (err + '\n' + out).splitlines():
        l = line.strip()
        if l.lower().startswith(('error', 'warning', 'refus')) or 'Error' in l[:20]:
            return l[:220]
    lines = [l for l in err.splitlines() if l.strip()]
    return (lines[-1] if lines else '')[:220]

def case(group, name, cmd, env=None, expect='error', timeout=300, note_from=None):
    code, out, err = run(cmd, env, timeout)
    v = verdict(code, err)
    good = (v == expect) or (expect == 'error' and v == 'error')
    rows.append((group, name, code, v, 'yes' if good else 'NO', (note_from(out, err) if note_from else first_err(err, out)).replace('|', '/')))
    return code, out, err

# ---------- 1. configs ----------
def mutated(exp, table, field, value, extra=None):
    d = tempfile.mkdtemp(dir=T)
    shutil.copytree(f'{ROOT}/experiments', d, dirs_exist_ok=True)
    p = f'{d}/{exp}.toml'
    text = open(p).read()
    # replace `field = ...` inside [table] (first occurrence after the header)
    hdr = f'[{table}]'
    i = text.index(hdr)
    j = text.find('\n[', i + 1)
    j = len(text) if j < 0 else j
    sect = text[i:j]
    new, n = re.subn(rf'(?m)^{re.escape(field)}\s*=.*$', f'{field} = {value}', sect, count=1)
    assert n == 1, (exp, table, field)
    open(p, 'w').write(text[:i] + new + text[j:])
    return d

cfg_cases = [
    ('uv', 'smoke', 'skip_factor', 'inf'), ('uv', 'smoke', 'start_fraction', 'inf'), ('uv', 'smoke', 'diverge_factor', '1e400'),
    ('uv', 'smoke', 'run_length_multiple', 'nan'), ('uv', 'smoke', 'n', '10000000000'), ('uv', 'smoke', 'd', '10000000000'),
    ('uv', 'smoke', 'noise_seeds', '10000000000'), ('uv', 'smoke', 'log_every', '9223372036854775807'), ('uv', 'smoke', 'eps', '-1'),
    ('uv', 'smoke', 'lrs', '[1e-3, 1.00000001e-3]'), ('uv', 'smoke', 'lrs', '[]'), ('uv', 'smoke', 'gammas', '[0.5, 5e-324]'),
    ('matrix-sensing', 'smoke', 'init_sigma', 'inf'), ('matrix-sensing', 'smoke', 'd', '100000'), ('matrix-sensing', 'smoke', 'n', '-5'),
    ('matrix-sensing', 'smoke', 'steps', '18446744073709551615'), ('matrix-sensing', 'smoke', 'one_minus_betas', '[1.0, 1.0]'),
    ('mlp-fashion', 'smoke', 'lrs', '[0.1, 0.1, 0.2]'), ('mlp-fashion', 'smoke', 'batch_size', '0'), ('mlp-fashion', 'smoke', 'valley_lr', '1e300'),
    ('resnet-cifar', 'smoke.phase2', 'lrs', '[0.05, inf]'), ('resnet-cifar', 'smoke.phase1', 'lr', '1e-320'),
    ('resnet-cifar', 'smoke', 'base_width', '100000'), ('resnet-cifar', 'smoke.phase2', 'batch_size', '0'),
    ('theory', 'smoke', 'fd_h', '0'),
]
for exp, table, field, value in cfg_cases:
    d = mutated(exp, table, field, value)
    case('config', f'{exp} [{table}] {field} = {value}', [BIN, 'run', exp, '--scale', 'smoke', '--config', f'{d}/{exp}.toml', '--out', f'{d}/out', '--quiet'], timeout=120)
d = tempfile.mkdtemp(dir=T); open(f'{d}/uv.toml', 'w').write('not = [toml')
case('config', 'uv.toml not TOML', [BIN, 'run', 'uv', '--scale', 'smoke', '--config', f'{d}/uv.toml', '--out', f'{d}/out'])
case('config', 'missing experiments dir', [BIN, 'run', 'uv', '--scale', 'smoke', '--config', f'{T}/nope/uv.toml', '--out', f'{T}/o'])
case('cli', 'bad shard 0/2', [BIN, 'all', '--shard', '0/2', '--out', f'{T}/o'])
case('cli', 'bad scale', [BIN, 'all', '--scale', 'huge', '--out', f'{T}/o'])

# ---------- 2. run store ----------
good = f'{T}/store'
code, _, err = run([BIN, 'all', '--scale', 'smoke', '--only', 'uv', '--only', 'matrix-sensing', '--out', good, '--quiet'], timeout=600)
rows.append(('store', 'baseline smoke uv + matrix-sensing', code, verdict(code, err), 'yes' if code == 0 else 'NO', ''))
ref = {p: open(p, 'rb').read() for p in glob.glob(f'{good}/*/runs/*/summary.json')}
uv_runs = sorted(glob.glob(f'{good}/uv/runs/*/summary.json'))
for label, text in [('{}', '{}'), ('null', 'null'), ('torn "{"', '{'), ('a NaN as null', None), ('empty file', '')]:
    victim = uv_runs[len(rows) % len(uv_runs)]
    if text is None:
        j = json.load(open(victim)); j['train_seconds'] = None; text = json.dumps(j)
        # null now reads as NaN (old records): it is a complete record, nothing is retrained
    open(victim, 'w').write(text)
    code, out, err = case('store', f'a uv summary replaced by {label}, then rerun', [BIN, 'all', '--scale', 'smoke', '--only', 'uv', '--out', good, '--quiet'], expect='ok', timeout=600,
                          note_from=lambda o, e: (re.findall(r'warning: .*', e) or ['(no warning)'])[0][:200])
victim = uv_runs[0]
cfg = json.load(open(os.path.dirname(victim) + '/config.json')); cfg['lr'] = cfg['lr'] * 2
json.dump(cfg, open(os.path.dirname(victim) + '/config.json', 'w'))
case('store', 'a uv run config.json from another config (merged shard)', [BIN, 'all', '--scale', 'smoke', '--only', 'uv', '--out', good, '--quiet'], expect='ok', timeout=600,
     note_from=lambda o, e: (re.findall(r'warning: .*', e) or ['(no warning)'])[0][:200])
same = all(open(p, 'rb').read() == ref[p] for p in ref if '/uv/' in p and 'train_seconds' not in '')
def strip(b):
    j = json.loads(b); j.pop('train_seconds', None); return j
same = all(strip(open(p, 'rb').read()) == strip(ref[p]) for p in ref)
rows.append(('store', 'after the reruns, every run record equals the baseline (train_seconds aside)', '-', 'ok' if same else 'DIFF', 'yes' if same else 'NO', ''))
json.dump(json.load(open(f'{good}/theory/summary.json')) if os.path.exists(f'{good}/theory/summary.json') else {}, open('/dev/null', 'w'))

# diverging experiments: MS with init_sigma 1e200, ResNet lr 1e30
d = mutated('matrix-sensing', 'smoke', 'init_sigma', '1e200')
case('outcome', 'matrix-sensing smoke with init_sigma = 1e200 (overflow)', [BIN, 'all', '--scale', 'smoke', '--only', 'matrix-sensing', '--experiments', d, '--out', f'{d}/out', '--quiet'], expect='ok', timeout=600)
case('outcome', '... then report', [BIN, 'report', '--out', f'{d}/out', '--experiments', d], expect='ok')
d = mutated('resnet-cifar', 'smoke.phase2', 'lrs', '[1e30]')
text = open(f'{d}/resnet-cifar.toml').read()
i = text.index('[smoke.phase2]'); j = text.find('\n[', i + 1)
sect = text[i:j]
sect = re.sub(r'(?m)^c = .*$', f'c = {0.1 / (1e30 ** 0.666667):.6e}', sect)
sect = re.sub(r'(?m)^fig4_lr = .*$', 'fig4_lr = 1e30', sect)
sect = re.sub(r'(?m)^c_multipliers = .*$', 'c_multipliers = [1.0]', sect)
open(f'{d}/resnet-cifar.toml', 'w').write(text[:i] + sect + text[j:])
case('outcome', 'resnet smoke, every phase-2 run at η = 1e30 (diverges)', [BIN, 'all', '--scale', 'smoke', '--only', 'resnet-cifar', '--experiments', d, '--out', f'{d}/out', '--quiet'], expect='ok', timeout=900)
case('outcome', '... then report', [BIN, 'report', '--out', f'{d}/out', '--experiments', d], expect='ok')

# ---------- 3. shards and locks ----------
sh = f'{T}/shards'
# A cpu-scale shard holds its locks for minutes (the valley trains first).
p1 = subprocess.Popen([BIN, 'all', '--scale', 'cpu', '--only', 'mlp-fashion', '--shard', '1/2', '--out', sh, '--quiet'], cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
time.sleep(3)
ALL = [BIN, 'all', '--scale', 'cpu', '--only', 'mlp-fashion', '--out', sh, '--quiet']
case('locks', 'shard 1/3 while 1/2 runs', ALL + ['--shard', '1/3'])
case('locks', 'shard 1/2 twice', ALL + ['--shard', '1/2'])
case('locks', 'unsharded beside a shard', ALL)
d2 = mutated('mlp-fashion', 'cpu', 'run_seeds', '[0, 1, 2, 3]')
case('locks', '--force with another config while a shard runs', ALL + ['--shard', '2/2', '--force', '--experiments', d2])
case('locks', 'report while a shard runs', [BIN, 'report', '--out', sh], expect='ok', note_from=lambda o, e: (re.findall(r'.*in progress.*', o + e) or ['(no in-progress line)'])[0][:200])
rows.append(('locks', 'the shard 1/2 was still running during the cases above', '-', 'ok' if p1.poll() is None else 'FINISHED EARLY', 'yes' if p1.poll() is None else 'NO', ''))
p1.send_signal(signal.SIGKILL); p1.wait()
case('locks', 'report after that shard was SIGKILLed', [BIN, 'report', '--out', sh], expect='ok', note_from=lambda o, e: (re.findall(r'.*runs complete.*', o + e) or [''])[0][:200])

# ---------- 4. kill -9 and resume ----------
for exp, delay in [('mlp-fashion', 8), ('resnet-cifar', 12), ('uv', 3)]:
    out = f'{T}/kill-{exp}'
    p = subprocess.Popen([BIN, 'all', '--scale', 'smoke', '--only', exp, '--out', out, '--quiet'], cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    time.sleep(delay); p.send_signal(signal.SIGKILL); p.wait()
    case('kill', f'{exp} smoke SIGKILLed after {delay} s, resumed', [BIN, 'all', '--scale', 'smoke', '--only', exp, '--out', out, '--quiet'], expect='ok', timeout=900)
    tmp = glob.glob(f'{out}/**/.*.tmp.*', recursive=True)
    rows.append(('kill', f'{exp}: temporaries left after resume', '-', 'ok' if not tmp else 'LEFT', 'yes' if not tmp else 'NO', str(len(tmp))))

# ---------- 5. data ----------
dd = f'{T}/cifar-partial/cifar10/cifar-10-batches-bin'; os.makedirs(dd)
for n in ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'test_batch.bin']:
    open(f'{dd}/{n}', 'wb').write(bytes(3073) * 10)
d = mutated('resnet-cifar', 'smoke', 'dataset', '"auto"')
case('data', 'FLATTER_DATA_DIR: CIFAR-10 without data_batch_5', [BIN, 'run', 'resnet-cifar', '--scale', 'smoke', '--out', f'{T}/cp', '--quiet'], env={'FLATTER_DATA_DIR': f'{T}/cifar-partial'})
bomb = f'{T}/bomb/fashion-mnist'; os.makedirs(bomb)
with gzip.open(f'{bomb}/train-images-idx3-ubyte.gz', 'wb') as f:
    f.write(bytes([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]))
    z = bytes(1 << 20)
    for _ in range(1024): f.write(z)
for n in ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']:
    shutil.copy(f'/usr/share/datasets/fashion-mnist/{n}', f'{bomb}/{n}') if os.path.exists(f'/usr/share/datasets/fashion-mnist/{n}') else None
case('data', 'Fashion-MNIST train images: a 1 GiB gzip bomb', ['/usr/bin/time', '-f', 'maxrss_kb=%M', BIN, 'run', 'mlp-fashion', '--scale', 'smoke', '--data-dir', bomb, '--out', f'{T}/bo', '--quiet'],
     note_from=lambda o, e: first_err(e) + ' ; ' + (re.findall(r'maxrss_kb=\d+', e) or [''])[0])
trunc = f'{T}/trunc/fashion-mnist'; os.makedirs(trunc)
for n in os.listdir('/usr/share/datasets/fashion-mnist'):
    shutil.copy(f'/usr/share/datasets/fashion-mnist/{n}', trunc)
raw = gzip.open(f'{trunc}/t10k-labels-idx1-ubyte.gz').read()
with gzip.open(f'{trunc}/t10k-labels-idx1-ubyte.gz', 'wb') as f: f.write(raw[:5000])
case('data', 'Fashion-MNIST test labels truncated', [BIN, 'run', 'mlp-fashion', '--scale', 'smoke', '--data-dir', trunc, '--out', f'{T}/tr', '--quiet'])
os.remove(f'{trunc}/t10k-labels-idx1-ubyte.gz')
case('data', 'Fashion-MNIST test labels missing', [BIN, 'run', 'mlp-fashion', '--scale', 'smoke', '--data-dir', trunc, '--out', f'{T}/tr', '--quiet'])

# ---------- 6. xtask ----------
for args in [['--lr', '1e-300'], ['--lr', '1e300'], ['--lr', 'nan'], ['--lr', '-1'], ['--lr', '0'], ['--lr', '0.05', '--c', 'inf'], ['--lr', '0.05', '--label-noise', '2']]:
    case('xtask', 'advise ' + ' '.join(args), [XTASK, 'advise'] + args, expect='error',
         note_from=lambda o, e: (first_err(e) if e.strip() else o.strip().splitlines()[-1] if o.strip() else '')[:200])
case('xtask', 'report --out a missing folder', [XTASK, 'report', '--out', f'{T}/no-such-dir'])

print('| group | case | exit | outcome | as intended | message |')
print('|---|---|---|---|---|---|')
for r in rows:
    print('| ' + ' | '.join(str(x) for x in r) + ' |')
bad = [r for r in rows if r[4] != 'yes']
print(f'\n{len(rows)} cases, {len(bad)} not as intended', file=sys.stderr)
