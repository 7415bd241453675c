"Train the toy method with `avl_nb.train.fit`; run by tests/test_train.py directly and under torchrun."
import argparse, os, signal
import torch
from avl_nb.core import set_seed
from avl_nb.train import Callback, finish_distributed, fit, make_loaders
from avl_nb.toy import ToyAV, ToyMethod

class KillAt(Callback):
    "SIGKILL this process right after optimiser step `step` (a hard crash: no cleanup, no finally blocks)."
    def __init__(self, step): self.at = step
    def after_step(self, learn):
        if learn.step == self.at: os.kill(os.getpid(), signal.SIGKILL)

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--out', required=True); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--bs', type=int, default=16); p.add_argument('--clips', type=int, default=96)
    p.add_argument('--kill-at', type=int, default=None); p.add_argument('--ckpt-every', type=int, default=None)
    p.add_argument('--no-gather', action='store_true'); p.add_argument('--lr', type=float, default=3e-3)
    a = p.parse_args()
    set_seed(0)
    method = ToyMethod()
    dls = make_loaders(ToyAV(a.clips, seed=0), None, batch_size=a.bs, seed=0)
    cbs = [KillAt(a.kill_at)] if a.kill_at else []
    learn = fit(method, dls, a.epochs, a.lr, out=a.out, resume=True, ckpt_every=a.ckpt_every, progress=False,
                gather_negatives=not a.no_gather, sched='cosine', warmup=3, cbs=cbs)
    if learn.is_main: torch.save(method.state_dict(), os.path.join(a.out, 'final.pt'))
    finish_distributed()
