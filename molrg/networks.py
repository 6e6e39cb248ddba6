"""A DDPM++-style U-Net (Song et al. 2021, as configured in EDM's `SongUNet`), written for readability.

Spec §6.3: model_channels (`width`), channel_mult, num_blocks per level, attention at the listed
resolutions plus always in the lowest decoder block, positional noise embedding, resample filter
[1, 1] (average pooling down, nearest-neighbour up), dropout. The network maps a preconditioned input
(B, C, H, W) and a noise conditioning c_noise (B,) to an output of the same shape as the input; the
EDM/VP scalings that turn it into a denoiser D(x, sigma) live in `molrg.precond`.

Choices (ours, documented): no class conditioning (the MoLRG and real-image runs are unconditional),
default PyTorch initialisation except that every layer closing a residual branch and the output
layer start at 1e-5 scale (EDM's `init_zero`), so that each block starts as the identity.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def _zero_init(layer: nn.Module, scale: float = 1e-5) -> nn.Module:
    """Shrink a layer's initial weights so that its residual branch starts almost switched off."""
    with torch.no_grad():
        layer.weight.mul_(scale)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def _group_norm(channels: int) -> nn.GroupNorm:
    # DDPM++: 32 groups, fewer when the channel count is small (at least 4 channels per group).
    return nn.GroupNorm(num_groups=min(32, max(1, channels // 4)), num_channels=channels, eps=1e-6)


class PositionalEmbedding(nn.Module):
    """Transformer-style sinusoidal embedding of the scalar noise level c_noise (DDPM++ 'positional')."""

    def __init__(self, num_channels: int, max_positions: int = 10000):
        super().__init__()
        if num_channels % 2:
            raise ValueError(f"noise embedding needs an even channel count, got {num_channels}")
        half = num_channels // 2
        # frequencies 1, ..., 1/max_positions spaced geometrically, endpoint included (as EDM)
        freqs = (1 / max_positions) ** (torch.arange(half, dtype=torch.float32) / max(half - 1, 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, c_noise: Tensor) -> Tensor:
        angles = c_noise.float().reshape(-1, 1) * self.freqs.reshape(1, -1)
        return torch.cat([angles.cos(), angles.sin()], dim=1)


class SelfAttention(nn.Module):
    """Single-head self-attention over the spatial positions, as a residual branch."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1)
        self.proj = _zero_init(nn.Conv2d(channels, channels, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        w = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(C), dim=2)
        a = torch.einsum("bij,bcj->bci", w, v).reshape(B, C, H, W)
        return self.proj(a)


class UNetBlock(nn.Module):
    """Residual block: GN-SiLU-conv, + noise embedding, GN-SiLU-dropout-conv, optional down/up
    sampling by 2 (filter [1, 1]) and optional attention. Branches are scaled by sqrt(1/2)."""

    def __init__(self, cin: int, cout: int, emb_channels: int, dropout: float = 0.0,
                 attention: bool = False, resample: str | None = None):
        super().__init__()
        if resample not in (None, "down", "up"):
            raise ValueError(f"resample must be None, 'down' or 'up', got {resample!r}")
        self.resample = resample
        self.norm0 = _group_norm(cin)
        self.conv0 = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
        self.affine = nn.Linear(emb_channels, cout)
        self.norm1 = _group_norm(cout)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = _zero_init(nn.Conv2d(cout, cout, kernel_size=3, padding=1))
        # skip path: 1x1 projection when the width or the resolution changes (EDM resample_proj=True)
        self.skip = nn.Conv2d(cin, cout, kernel_size=1) if (cin != cout or resample) else None
        self.attn = SelfAttention(cout) if attention else None
        self.skip_scale = math.sqrt(0.5)

    def _resample(self, x: Tensor) -> Tensor:
        if self.resample == "down":
            return F.avg_pool2d(x, 2)  # filter [1, 1] x [1, 1] / 4, stride 2
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")  # filter [1, 1] transposed
        return x

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv0(self._resample(F.silu(self.norm0(x))))
        h = h + self.affine(emb).unsqueeze(-1).unsqueeze(-1)  # additive conditioning (DDPM++)
        h = self.conv1(self.dropout(F.silu(self.norm1(h))))
        s = self._resample(x)
        if self.skip is not None:
            s = self.skip(s)
        x = (h + s) * self.skip_scale
        if self.attn is not None:
            x = (x + self.attn(x)) * self.skip_scale
        return x


class DDPMpp(nn.Module):
    """DDPM++ U-Net F(x_in, c_noise) with a 'standard' encoder and decoder.

    img_resolution: H = W of the input; in_channels/out_channels: C; width: EDM model_channels;
    channel_mult: width multiplier per level (level l works at resolution img_resolution / 2^l);
    num_blocks: residual blocks per level; attn_resolutions: resolutions with attention (the lowest
    decoder level always has one, as in EDM); dropout: in every residual block.
    """

    def __init__(self, img_resolution: int, in_channels: int, out_channels: int | None = None,
                 width: int = 128, channel_mult=(2, 2, 2), num_blocks: int = 4,
                 attn_resolutions=(16,), dropout: float = 0.1, channel_mult_emb: int = 4):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if img_resolution % (2 ** (len(channel_mult) - 1)):
            raise ValueError(
                f"img_resolution {img_resolution} is not divisible by 2^{len(channel_mult) - 1} "
                f"(channel_mult {list(channel_mult)} has {len(channel_mult)} levels)")
        self.img_resolution, self.in_channels, self.out_channels = img_resolution, in_channels, out_channels
        emb_ch = width * channel_mult_emb

        self.noise_embed = PositionalEmbedding(width)
        self.map0 = nn.Linear(width, emb_ch)
        self.map1 = nn.Linear(emb_ch, emb_ch)

        # Encoder: input conv, then per level (downsampling block unless level 0) + num_blocks blocks.
        self.enc = nn.ModuleList()
        skips = []  # channel counts of the feature maps the decoder will concatenate
        cout = width
        self.conv_in = nn.Conv2d(in_channels, cout, kernel_size=3, padding=1)
        skips.append(cout)
        for level, mult in enumerate(channel_mult):
            res = img_resolution >> level
            if level > 0:
                self.enc.append(UNetBlock(cout, cout, emb_ch, dropout, resample="down"))
                skips.append(cout)
            for _ in range(num_blocks):
                cin, cout = cout, width * mult
                self.enc.append(UNetBlock(cin, cout, emb_ch, dropout, attention=res in attn_resolutions))
                skips.append(cout)

        # Decoder: from the lowest level up; each level takes num_blocks + 1 skip connections.
        self.dec = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            res = img_resolution >> level
            if level == len(channel_mult) - 1:
                self.dec.append(UNetBlock(cout, cout, emb_ch, dropout, attention=True))
                self.dec.append(UNetBlock(cout, cout, emb_ch, dropout))
            else:
                self.dec.append(UNetBlock(cout, cout, emb_ch, dropout, resample="up"))
            for i in range(num_blocks + 1):
                cin, cout = cout + skips.pop(), width * mult
                attn = i == num_blocks and res in attn_resolutions
                self.dec.append(UNetBlock(cin, cout, emb_ch, dropout, attention=attn))
                self.dec[-1].takes_skip = True
        assert not skips
        self.norm_out = _group_norm(cout)
        self.conv_out = _zero_init(nn.Conv2d(cout, out_channels, kernel_size=3, padding=1))

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        emb = F.silu(self.map0(self.noise_embed(c_noise)))
        emb = F.silu(self.map1(emb))
        h = self.conv_in(x)
        skips = [h]
        for block in self.enc:
            h = block(h, emb)
            skips.append(h)
        for block in self.dec:
            if getattr(block, "takes_skip", False):
                h = torch.cat([h, skips.pop()], dim=1)
            h = block(h, emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def num_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def vectors_to_images(x: Tensor, channels: int = 3) -> Tensor:
    """A batch of n-vectors as U-Net images, the authors' layout (spec §1.4 step 5, §9.1):
    each vector is reshaped to (res, res, channels) in HWC order, then permuted to CHW."""
    B, n = x.shape
    res = math.isqrt(n // channels)
    if res * res * channels != n:
        raise ValueError(f"a {n}-vector is not a {channels} x res x res image")
    return x.reshape(B, res, res, channels).permute(0, 3, 1, 2).contiguous()


def images_to_vectors(img: Tensor) -> Tensor:
    """Inverse of `vectors_to_images`: (B, C, H, W) -> (B, H*W*C) in HWC order."""
    return img.permute(0, 2, 3, 1).reshape(img.shape[0], -1)
