"""Reference updates for OptimizerTests: PyTorch's own optimizers on a fixed gradient sequence.

Run once with Debian's python3-torch (1.13):  /usr/bin/python3 reference.py > reference.json
AdamW and SGD are torch.optim's own classes. PyTorch 1.13 has no Adafactor (it arrived in 2.5), so `adafactor_step` below is
torch/optim/_adafactor.py's `_single_tensor_adafactor` (PyTorch 2.5) written out with the same tensor operations in the same
order. Two parameter groups, as the trainer makes them: a decayed 3x4 matrix and an undecayed 4-vector.
"""
import json
import math

import torch

STEPS = 5


def initial():
    w = torch.tensor([[0.5 * math.sin(1 + i * 4 + j) for j in range(4)] for i in range(3)], dtype=torch.float32)
    b = torch.tensor([0.3 * math.cos(1 + k) for k in range(4)], dtype=torch.float32)
    return w.requires_grad_(), b.requires_grad_()


def gradients(t):
    gw = torch.tensor([[math.sin(0.37 * (i * 4 + j) + 0.91 * t) * (1 + 0.5 * t) / 3 for j in range(4)] for i in range(3)],
                      dtype=torch.float32)
    gb = torch.tensor([0.2 * math.cos(0.53 * k + 1.7 * t) for k in range(4)], dtype=torch.float32)
    return gw, gb


def run(make, step=None):
    w, b = initial()
    opt = make(w, b) if make else None
    state = {}
    trace = []
    for t in range(1, STEPS + 1):
        w.grad, b.grad = gradients(t)
        if opt:
            opt.step()
        else:
            with torch.no_grad():
                step(state, [(w, 0.01, 0.01), (b, 0.01, 0.0)])
        trace.append({"w": w.detach().flatten().tolist(), "b": b.detach().tolist()})
    return trace


def adafactor_step(state, params, beta2_decay=-0.8, eps2=1e-3, d=1.0):
    for param, lr, weight_decay in params:
        grad = param.grad
        eps1 = torch.finfo(param.dtype).eps
        s = state.setdefault(id(param), {"step": 0})
        if not s.get("init"):
            s["init"] = True
            if grad.dim() > 1:
                s["row_var"] = grad.new_zeros(list(grad.shape[:-1]) + [1])
                s["col_var"] = grad.new_zeros(list(grad.shape[:-2]) + [1, grad.shape[-1]])
            else:
                s["variance"] = torch.zeros_like(grad)
        s["step"] += 1
        step_float = float(s["step"])
        one_minus_beta2_t = step_float ** beta2_decay
        rho_t = min(lr, 1 / (step_float ** 0.5))
        alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho_t
        if weight_decay != 0:
            param.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            row_mean = torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
            s["row_var"].lerp_(row_mean, one_minus_beta2_t)
            col_mean = torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
            s["col_var"].lerp_(col_mean, one_minus_beta2_t)
            var_estimate = s["row_var"] @ s["col_var"]
            var_estimate.div_(s["row_var"].mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            s["variance"].lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = s["variance"].clone()
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        param.add_(update, alpha=-alpha / denom)


print(json.dumps({
    "torch": torch.__version__,
    "adamw": run(lambda w, b: torch.optim.AdamW([{"params": [w], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}],
                                                lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
    "sgd": run(lambda w, b: torch.optim.SGD([{"params": [w], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}],
                                            lr=0.05, momentum=0.9)),
    "adafactor": run(None, adafactor_step),
}, indent=1))
