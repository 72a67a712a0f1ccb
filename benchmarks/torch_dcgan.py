"""The PyTorch peer: the `dcgan` preset's architecture and update written the way PyTorch's DCGAN example writes
them, timed in img/s. It needs only torch and numpy, in its own environment (never a dependency of the lab):

  python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 numpy     # or: make bench-torch-env
  .venv-torch/bin/python benchmarks/torch_dcgan.py                       # CPU, NCHW and channels_last
  python3 benchmarks/torch_dcgan.py --device cuda --amp --batch 128 256 512

Architecture = animegan_tf's `dcgan` preset: G ConvTranspose 100->512 (k4, 1x1->4x4), 256, 128, 64 (k4 s2 p1, BN +
ReLU), 3 (tanh); D Conv 64 (LeakyReLU 0.2), 128, 256, 512 (BN + LeakyReLU), 1 (k4 valid); no conv biases; Adam 2e-4,
beta_1 0.5; N(0, 0.02) init. One step = one D update on a real and a fake batch + one non-saturating G update on
the same fakes, like the lab's train_step. Real batches are uint8 images sliced from a tensor on the device and
scaled to [-1, 1] inside the step, as the lab's pipeline does.

The step runs eagerly, as the example does. (torch.compile of the two networks was tried on the H100 with torch
2.11 and stopped in inductor's channels_last convolution-backward stride check; it is not offered here.)

`--serve` turns the script into a worker for train_throughput.py's interleaved comparison: it reads a step count
per line on stdin, runs that many steps, and answers with the seconds they took.

`--train FACES.npy --budgets 5 10 20` trains the example for real on uint8 faces (N, 64, 64, 3), as the example's
loop does (a fresh random order every epoch, batch 128, the last partial batch included), and at each budget of
training wall-clock minutes (the clock paused while sampling) writes `--samples` images of G in eval mode to
OUT/torch_<M>min.npy; `--kimg 100 400` samples at those thousands of images shown instead (torch_<K>kimg.npy),
reporting the wall-clock each mark took. The last stdout line is a JSON report (time_to_quality.py runs this and
scores them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

NZ, NGF, NDF = 100, 64, 64


def generator() -> nn.Sequential:
    def up(cin, cout, stride, padding):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    return nn.Sequential(*up(NZ, NGF * 8, 1, 0), *up(NGF * 8, NGF * 4, 2, 1), *up(NGF * 4, NGF * 2, 2, 1),
                         *up(NGF * 2, NGF, 2, 1), nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False), nn.Tanh())


def discriminator() -> nn.Sequential:
    def down(cin, cout, bn=True):
        return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), *([nn.BatchNorm2d(cout)] if bn else []),
                nn.LeakyReLU(0.2, inplace=True)]

    return nn.Sequential(*down(3, NDF, bn=False), *down(NDF, NDF * 2), *down(NDF * 2, NDF * 4),
                         *down(NDF * 4, NDF * 8), nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Flatten())


def init_weights(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Trainer:
    """One DCGAN's models, optimizers and a pool of real uint8 batches on one device."""

    def __init__(self, device="cpu", batch=128, channels_last=False, amp=False, seed=0):
        torch.manual_seed(seed)
        torch.backends.cudnn.benchmark = True  # as PyTorch's DCGAN example: autotune conv algorithms (GPU only)
        self.device, self.batch = torch.device(device), batch
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.g = generator().apply(init_weights).to(self.device, memory_format=self.memory_format)
        self.d = discriminator().apply(init_weights).to(self.device, memory_format=self.memory_format)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()
        # AMP: float16 autocast + gradient scaling on a GPU (the lab's mixed_float16), bfloat16 autocast on a CPU.
        self.amp_dtype = (torch.float16 if self.device.type == "cuda" else torch.bfloat16) if amp else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        gen = torch.Generator().manual_seed(seed)
        self.pool = torch.randint(0, 256, (8 * batch, 3, 64, 64), dtype=torch.uint8, generator=gen).to(self.device)
        self.real_label = torch.ones(batch, 1, device=self.device)
        self.fake_label = torch.zeros(batch, 1, device=self.device)
        self.cursor = 0

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _step(self, real_u8):
        real = (real_u8.float() / 127.5 - 1.0).contiguous(memory_format=self.memory_format)
        n = real.shape[0]
        z = torch.randn(n, NZ, 1, 1, device=self.device)
        # Discriminator: real batch and fake batch separately, one update.
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            fake = self.g(z)
            d_loss = self.bce(self.d(real).float(), self.real_label[:n]) + self.bce(
                self.d(fake.detach()).float(), self.fake_label[:n])
        self.scaler.scale(d_loss).backward()
        self.scaler.step(self.opt_d)
        # Generator: non-saturating loss against the updated discriminator, on the same fakes.
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            g_loss = self.bce(self.d(fake).float(), self.real_label[:n])
        self.scaler.scale(g_loss).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        return g_loss

    def run(self, steps: int) -> float:
        """Seconds from the end of the first of `steps` training steps to the end of the last (the device
        synchronised at both ends), as train_throughput.py times the lab: steady state, (steps - 1) steps."""
        for i in range(steps):
            lo = self.cursor * self.batch
            self.cursor = (self.cursor + 1) % 8
            loss = self._step(self.pool[lo:lo + self.batch])
            if i == 0:
                float(loss.detach())
                self._sync()
                start = time.perf_counter()
        float(loss.detach())
        self._sync()
        return time.perf_counter() - start

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()


    @torch.no_grad()
    def sample(self, n: int, seed: int = 0):
        """n uint8 images (n, 64, 64, 3) from G in eval mode (BatchNorm running statistics), as the lab samples."""
        self.g.eval()
        z = torch.randn(n, NZ, 1, 1, generator=torch.Generator().manual_seed(seed)).to(self.device)
        images = torch.cat([self.g(z[i:i + 250]).float().cpu() for i in range(0, n, 250)])
        self.g.train()
        return ((images.permute(0, 2, 3, 1) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def train_on_faces(args):
    import numpy as np

    faces = torch.from_numpy(np.load(args.train)).permute(0, 3, 1, 2).contiguous()  # uint8 NCHW
    if faces.ndim != 4 or faces.shape[1] != 3 or faces.dtype != torch.uint8:
        sys.exit(f"error: {args.train} must hold uint8 images (N, 64, 64, 3)")
    trainer = Trainer(args.device, args.batch[0])
    faces = faces.to(trainer.device)
    in_kimg = args.kimg is not None  # marks in images shown (thousands), else in wall-clock minutes
    budgets, points = sorted(args.kimg if in_kimg else args.budgets), []
    args.out.mkdir(parents=True, exist_ok=True)
    start, paused, steps, shown = time.monotonic(), 0.0, 0, 0

    def reached(mark):
        return shown >= mark * 1000 if in_kimg else time.monotonic() - start - paused >= mark * 60

    while budgets:
        order = torch.randperm(len(faces))  # DataLoader(shuffle=True): a new order every epoch
        for lo in range(0, len(faces), trainer.batch):
            batch = faces[order[lo:lo + trainer.batch]]
            loss = trainer._step(batch)
            float(loss.detach())
            steps, shown = steps + 1, shown + len(batch)
            while budgets and reached(budgets[0]):
                seconds = time.monotonic() - start - paused
                pause = time.monotonic()
                mark = budgets.pop(0)
                path = args.out / f"torch_{mark:g}{'kimg' if in_kimg else 'min'}.npy"
                np.save(path, trainer.sample(args.samples))
                points.append({"mark": mark, "minutes": seconds / 60, "kimg": shown / 1000, "steps": steps,
                               "file": str(path)})
                print(f"{mark:g} {'kimg' if in_kimg else 'min'}: {steps} steps", file=sys.stderr, flush=True)
                paused += time.monotonic() - pause
            if not budgets:
                break
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "batch": trainer.batch, "points": points}))


def serve(args):
    trainer = Trainer(args.device, args.batch[0], args.channels_last, args.amp)
    for line in sys.stdin:
        print(trainer.run(int(line)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, nargs="+", default=[128])
    ap.add_argument("--steps", type=int, default=20, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--amp", action="store_true", help="also time autocast (float16 on cuda, bfloat16 on cpu)")
    ap.add_argument("--channels-last", action="store_true", help="(--serve) channels_last memory format")
    ap.add_argument("--serve", action="store_true", help="worker mode for train_throughput.py")
    ap.add_argument("--train", default=None, help="train on this .npy of uint8 faces (N, 64, 64, 3)")
    ap.add_argument("--budgets", type=float, nargs="+", default=[5, 10, 20], help="(--train) minutes to sample at")
    ap.add_argument("--kimg", type=float, nargs="+", default=None,
                    help="(--train) sample at these thousands of images shown instead of at --budgets minutes")
    ap.add_argument("--samples", type=int, default=2000, help="(--train) samples per budget")
    ap.add_argument("--out", type=Path, default=Path("torch-samples"), help="(--train) folder for the samples")
    args = ap.parse_args()
    if args.serve:
        return serve(args)
    if args.train:
        return train_on_faces(args)

    results = []
    for batch in args.batch:
        variants = {"nchw_f32": dict(channels_last=False), "channels_last_f32": dict(channels_last=True)}
        if args.amp:
            variants["channels_last_amp"] = dict(channels_last=True, amp=True)
        trainers = {name: Trainer(args.device, batch, **kw) for name, kw in variants.items()}
        for t in trainers.values():  # warm-up: cuDNN autotuning, allocator, compilation
            t.run(max(3, args.steps // 4))
        rates = {name: [] for name in trainers}
        for _ in range(args.repeats):  # interleaved: A B C A B C ...
            for name, t in trainers.items():
                rates[name].append((args.steps - 1) * batch / t.run(args.steps))
        base = statistics.median(rates["nchw_f32"])
        for name, r in rates.items():
            med = statistics.median(r)
            results.append({"batch": batch, "variant": name, "median_img_s": round(med, 1),
                            "ratio_vs_nchw_f32": round(med / base, 3), "runs": [round(x, 1) for x in r]})
            print(f"batch {batch:4d}  {name:18s} median {med:10.1f} img/s  ratio {med / base:.3f}  "
                  f"runs {[round(x, 1) for x in r]}", flush=True)
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "device": device, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "steps": args.steps, "repeats": args.repeats,
                      "results": results}))


if __name__ == "__main__":
    main()
