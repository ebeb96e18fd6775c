"""PyTorch baseline for benches/resnet_throughput.rs: kuangliu's CIFAR ResNet-18
(BatchNorm, no conv biases), one SGD-with-momentum training step per batch of
32x32x3 float32 images. Prints `images_per_second <x>`: the median over REPS
steps, each timed alone after WARMUP steps (default 1), with CUDA synchronised
around each step on a GPU.

usage: resnet_throughput_torch.py THREADS BATCH REPS [DEVICE [BASE_WIDTH [WARMUP]]]
  DEVICE: cpu (default) or cuda; BASE_WIDTH: 64 (default, the full ResNet-18)
  or smaller, as `flatter-experiment gpu-check --dry-run` uses.
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10, base=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        layers, c_in = [], base
        for width, stride in [(base, 1), (2 * base, 2), (4 * base, 2), (8 * base, 2)]:
            for s in [stride, 1]:
                layers.append(BasicBlock(c_in, width, s))
                c_in = width
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(8 * base, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.avg_pool2d(out, 4)
        return self.linear(out.flatten(1))


def main():
    threads, batch, reps = (int(a) for a in sys.argv[1:4])
    device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
    base = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ResNet18(base=base).to(device)
    if base == 64:
        assert sum(p.numel() for p in model.parameters()) == 11_173_962
    # Heavy ball, eq. (1): dampening 0, no Nesterov, no weight decay.
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.0)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}")
    print(f"images_per_second {batch / times[len(times) // 2]}")


if __name__ == "__main__":
    main()
