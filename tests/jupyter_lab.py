"A JupyterLab server for browser tests and benchmarks: private config, a free localhost port, a notebook whose kernel is started before the page opens."
import contextlib, json, os, socket, subprocess, sys, time, urllib.request
from pathlib import Path

TOKEN = 'avl-nb-e2e'

def write_notebook(path, cells):
    "A notebook of code cells `cells` (no outputs) at `path`."
    nb = [{'cell_type': 'code', 'execution_count': None, 'id': f'c{k}', 'metadata': {}, 'outputs': [], 'source': src} for k, src in enumerate(cells)]
    Path(path).write_text(json.dumps({'cells': nb, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
                                      'nbformat': 4, 'nbformat_minor': 5}))

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@contextlib.contextmanager
def running_lab(root, pythonpath):
    "A JupyterLab server serving `root` whose kernels import `avl_nb` from `pythonpath`; yields (url, token)."
    root = Path(root); port = _free_port()
    settings = root / '.settings' / '@jupyterlab'                       # no news toast; start the notebook's kernel unasked
    for ext, js in (('apputils-extension/notification', '{"fetchNews": "false"}'),
                    ('notebook-extension/tracker', '{"autoStartDefaultKernel": true}')):
        f = settings / f'{ext}.jupyterlab-settings'; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(js)
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(root / '.cfg'), 'JUPYTER_RUNTIME_DIR': str(root / '.run'),
           'JUPYTER_DATA_DIR': str(root / '.data'), 'JUPYTERLAB_SETTINGS_DIR': str(settings.parent), 'PYTHONPATH': str(pythonpath)}
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={TOKEN}', f'--ServerApp.root_dir={root}',
                             '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(root / 'lab.log', 'w'))
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try: urllib.request.urlopen(f'{url}/api/status?token={TOKEN}', timeout=2); break
            except Exception: time.sleep(0.5)
        else: raise RuntimeError('JupyterLab did not start:\n' + (root / 'lab.log').read_text()[-3000:])
        yield url, TOKEN
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()

def start_kernel(url, token, name):
    "Open notebook `name` in a session, so its kernel runs before the page opens (no kernel dialog)."
    req = urllib.request.Request(f'{url}/api/sessions?token={token}', method='POST', headers={'Content-Type': 'application/json'},
                                 data=json.dumps({'path': name, 'type': 'notebook', 'name': name, 'kernel': {'name': 'python3'}}).encode())
    urllib.request.urlopen(req, timeout=60)
