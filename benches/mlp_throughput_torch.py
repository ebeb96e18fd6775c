"""The PyTorch side of benches/mlp_throughput.rs: the same MLP, batch, update and thread count.

Prints `samples_per_s <median>`; run by the Rust benchmark, not by hand (but it can be:
`python benches/mlp_throughput_torch.py --width 128 --batch 50 --threads 2`).
"""

import argparse
import statistics
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--device", default="cpu", help="cpu, or cuda (synchronised around every block)")
    p.add_argument("--gemms-only", action="store_true",
                   help="time only the step's 17 matrix products (6 forward, 6 weight gradients, 5 input gradients)")
    a = p.parse_args()
    device = torch.device(a.device)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    w = a.width
    # 6 linear layers: ReLU after 1-4, tanh after 5, logits from the 6th (flatter_experiments::mlp::model::Mlp).
    model = torch.nn.Sequential(
        torch.nn.Linear(784, w), torch.nn.ReLU(),
        torch.nn.Linear(w, w), torch.nn.ReLU(),
        torch.nn.Linear(w, w), torch.nn.ReLU(),
        torch.nn.Linear(w, w), torch.nn.ReLU(),
        torch.nn.Linear(w, w), torch.nn.Tanh(),
        torch.nn.Linear(w, 10),
    ).to(device)
    # Heavy ball, eq. (1): v <- 0.9 v + g, w <- w - lr v (dampening 0, no Nesterov, no decay).
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.0)
    x = torch.randn(a.batch, 784, device=device)
    y = torch.randint(0, 10, (a.batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    if a.gemms_only:
        # The same products as flatter_experiments::gpu_check::measure::mlp_gemm_rate:
        # weights [in, out], layer inputs [batch, in], output gradients [batch, out].
        dims = [784, w, w, w, w, w, 10]
        ws = [0.05 * torch.randn(dims[l], dims[l + 1], device=device) for l in range(6)]
        hs = [0.05 * torch.randn(a.batch, dims[l], device=device) for l in range(6)]
        gs = [0.05 * torch.randn(a.batch, dims[l + 1], device=device) for l in range(6)]

        @torch.no_grad()
        def step() -> None:
            for l in range(6):
                torch.mm(hs[l], ws[l])
            for l in reversed(range(6)):
                torch.mm(hs[l].t(), gs[l])
                if l > 0:
                    torch.mm(gs[l], ws[l].t())

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(a.warmup):
        step()
    sync()
    rates = []
    for _ in range(a.reps):
        start = time.perf_counter()
        for _ in range(a.steps):
            step()
        sync()
        rates.append(a.steps * a.batch / (time.perf_counter() - start))
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    print(f"samples_per_s {statistics.median(rates)}")


if __name__ == "__main__":
    main()
