"""Small Brevitas networks for the 8x8 digits dataset, one class per ONNX fixture.

Each class's docstring says which import feature its fixture exercises. ``MODELS`` maps a
fixture name to its class and its export format (``"qonnx"`` or ``"qcdq"``).

Brevitas defaults worth knowing when reading these:

- weight quantizers ``Int8WeightPerTensorFloat`` / ``Int8WeightPerChannelFloat``: signed,
  narrow range (-(2^(b-1) - 1) .. 2^(b-1) - 1), float scale from the weights' max |w|
  (per tensor or per output channel), zero point 0, rounding ROUND;
- ``QuantReLU``: ``Uint8ActPerTensorFloat`` (unsigned, full range, learned float scale);
  ``QuantIdentity`` / ``QuantHardTanh``: ``Int8ActPerTensorFloat`` (signed, full range);
  ``bit_width=`` overrides the 8;
- biases are not quantized (float) unless a ``bias_quant`` is given.
"""

import torch
from torch import nn

import brevitas.nn as qnn
from brevitas.quant import (Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Int32Bias,
                            ShiftedUint8ActPerTensorFloat, SignedBinaryActPerTensorConst,
                            SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat)


class MlpW2A2(nn.Module):
    """``digits-mlp-w2a2`` (QONNX): the simplest fully-connected case.

    Unsigned 8-bit input quantizer; three QuantLinear layers with 2-bit per-tensor weights
    (narrow range, so {-1, 0, 1} x scale), the first two without bias, each followed by
    BatchNorm1d and a 2-bit QuantReLU (a float BN between the MatMul and the activation's Quant,
    i.e. what becomes thresholds); the last layer 64 -> 10 has a float bias and no output
    quantizer (float logits).
    """

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 64, bias=False, weight_bit_width=2)
        self.bn1 = nn.BatchNorm1d(64)
        self.act1 = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(64, 64, bias=False, weight_bit_width=2)
        self.bn2 = nn.BatchNorm1d(64)
        self.act2 = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
        self.fc3 = qnn.QuantLinear(64, 10, bias=True, weight_bit_width=2)

    def forward(self, x):
        x = self.inp(x)
        x = torch.flatten(x, 1)
        x = self.act1(self.bn1(self.fc1(x)))
        x = self.act2(self.bn2(self.fc2(x)))
        return self.fc3(x)


class MlpW4A4PerChannel(nn.Module):
    """``digits-mlp-w4a4-perchannel`` (QONNX): per-channel weight scales, signed activations.

    The input is mapped to [-1, 1] in ``forward`` (``x * 2 - 1``: a Mul and an Add/Sub in the
    graph before the first Quant) and quantized by a signed 8-bit QuantIdentity. Three
    QuantLinear layers with 4-bit narrow-range weights and one float scale per output channel
    (scale shape (out, 1)), float biases on every layer, no batch norm; 4-bit signed
    QuantHardTanh activations (clamped to [-1, 1], then quantized with a learned per-tensor
    scale); float logits out.
    """

    def __init__(self):
        super().__init__()
        wq = dict(weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 64, bias=True, **wq)
        self.act1 = qnn.QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0,
                                      return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(64, 64, bias=True, **wq)
        self.act2 = qnn.QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0,
                                      return_quant_tensor=True)
        self.fc3 = qnn.QuantLinear(64, 10, bias=True, **wq)

    def forward(self, x):
        x = self.inp(x * 2.0 - 1.0)
        x = torch.flatten(x, 1)
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        return self.fc3(x)


class CnnW4A4(nn.Module):
    """``digits-cnn-w4a4`` (QONNX): a small CNN, conv + BN + ReLU + max pool twice.

    Unsigned 8-bit input; QuantConv2d 1->16 and 16->32 (3x3, padding 1, 4-bit per-tensor
    weights, no bias) each followed by BatchNorm2d, a 4-bit QuantReLU and MaxPool2d(2)
    (8x8 -> 4x4 -> 2x2); flatten (NCHW order, 32*2*2 = 128); QuantLinear 128 -> 10 with 4-bit
    weights and a float bias; float logits.
    """

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 16, 3, padding=1, bias=False, weight_bit_width=4)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(16, 32, 3, padding=1, bias=False, weight_bit_width=4)
        self.bn2 = nn.BatchNorm2d(32)
        self.act2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(32 * 2 * 2, 10, bias=True, weight_bit_width=4)

    def forward(self, x):
        x = self.inp(x)
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        return self.fc(x)


class CnnW1A1(nn.Module):
    """``digits-cnn-w1a1`` (QONNX): a binarized CNN (BipolarQuant weights and activations).

    Unsigned 8-bit input (the first conv's input is not binary, as in FINN's CNV); QuantConv2d
    1->16 and 16->32 (3x3, no padding: 8x8 -> 6x6 -> 4x4) with binary weights
    (``SignedBinaryWeightPerTensorConst``: {-1, +1} x a constant scale, 0.1 by Brevitas'
    default, so BipolarQuant's scale is not 1), each followed by BatchNorm2d and a binary
    activation (QuantIdentity with ``SignedBinaryActPerTensorConst``: {-1, +1} x 1.0);
    flatten (32*4*4 = 512); QuantLinear 512 -> 10 with binary weights and no bias, then a
    BatchNorm1d(10) (a float per-class affine, exported as BatchNormalization) giving float
    logits.
    """

    def __init__(self):
        super().__init__()
        wq = dict(weight_quant=SignedBinaryWeightPerTensorConst)
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 16, 3, bias=False, **wq)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                      return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(16, 32, 3, bias=False, **wq)
        self.bn2 = nn.BatchNorm2d(32)
        self.act2 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                      return_quant_tensor=True)
        self.fc = qnn.QuantLinear(32 * 4 * 4, 10, bias=False, **wq)
        self.bn_out = nn.BatchNorm1d(10)

    def forward(self, x):
        x = self.inp(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.bn_out(self.fc(x))


class ResnetW4A4(nn.Module):
    """``digits-resnet-w4a4`` (QONNX): a residual block whose Add sees one scale on both inputs.

    Stem: unsigned 8-bit input, QuantConv2d 1->16 (3x3, pad 1) + BN + 4-bit QuantReLU. Basic
    block: conv 3x3 pad 1 + BN + 4-bit QuantReLU + conv 3x3 pad 1 + BN, then ONE signed 4-bit
    QuantIdentity (``self.shared``) applied to both the branch output and the shortcut (the
    stem's output), so the two Quant nodes before the Add share scale, zero point and bit width;
    Add; 4-bit QuantReLU. Then a stride-2 conv 16->32 (8x8 -> 4x4) + BN + 4-bit QuantReLU;
    global average pooling (``nn.AdaptiveAvgPool2d(1)``: GlobalAveragePool in ONNX) followed by
    a 4-bit unsigned QuantIdentity (so the classifier's input is quantized, as hwgen's
    global_avgpool + activation); flatten; QuantLinear 32 -> 10 with a float bias. All weights
    4-bit per-tensor, convs without bias.
    """

    def __init__(self):
        super().__init__()
        w4 = dict(weight_bit_width=4, bias=False)
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.stem = qnn.QuantConv2d(1, 16, 3, padding=1, **w4)
        self.stem_bn = nn.BatchNorm2d(16)
        self.stem_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.b_conv1 = qnn.QuantConv2d(16, 16, 3, padding=1, **w4)
        self.b_bn1 = nn.BatchNorm2d(16)
        self.b_act1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.b_conv2 = qnn.QuantConv2d(16, 16, 3, padding=1, **w4)
        self.b_bn2 = nn.BatchNorm2d(16)
        self.shared = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4,
                                        return_quant_tensor=True)
        self.b_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.down = qnn.QuantConv2d(16, 32, 3, stride=2, padding=1, **w4)
        self.down_bn = nn.BatchNorm2d(32)
        self.down_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_act = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=4,
                                          return_quant_tensor=True)
        self.fc = qnn.QuantLinear(32, 10, bias=True, weight_bit_width=4)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = self.b_act1(self.b_bn1(self.b_conv1(x)))
        y = self.b_bn2(self.b_conv2(y))
        x = self.b_act(self.shared(y) + self.shared(x))
        x = self.down_act(self.down_bn(self.down(x)))
        x = self.pool_act(self.pool(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


class CnnW8A8Qcdq(nn.Module):
    """``digits-cnn-w8a8-qcdq`` (QCDQ: standard ONNX QuantizeLinear/DequantizeLinear).

    Signed 8-bit input quantizer (``Int8ActPerTensorFloat``); QuantConv2d 1->16 (3x3, pad 1) and
    16->16 (3x3, stride 2, pad 1: 8x8 -> 4x4), both with 8-bit per-channel weights
    (``Int8WeightPerChannelFloat``) and a bias quantized to int32 (``Int32Bias``: scale = input
    scale x weight scale, per channel), each followed by an 8-bit QuantReLU; MaxPool2d(2)
    (4x4 -> 2x2); flatten (16*2*2 = 64); QuantLinear 64 -> 10 with per-channel 8-bit weights and
    an int32 bias; float logits.
    """

    def __init__(self):
        super().__init__()
        q = dict(weight_quant=Int8WeightPerChannelFloat, bias=True, bias_quant=Int32Bias)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 16, 3, padding=1, stride=1, **q)
        self.act1 = qnn.QuantReLU(return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(16, 16, 3, padding=1, stride=2, **q)
        self.act2 = qnn.QuantReLU(return_quant_tensor=True)
        self.pool = nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(16 * 2 * 2, 10, **q)

    def forward(self, x):
        x = self.act1(self.conv1(self.inp(x)))
        x = self.pool(self.act2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)


class CnnZeroPointA8(nn.Module):
    """``digits-cnn-zeropoint-a8`` (QONNX): an activation with a non-zero zero point feeding a
    padded conv, so the padding value in integer units is the zero point, not 0.

    Unsigned 8-bit input; QuantConv2d 1->8 (3x3, pad 1, 8-bit per-tensor weights, no bias) +
    BatchNorm2d (no ReLU: the output is signed); QuantIdentity with
    ``ShiftedUint8ActPerTensorFloat`` (unsigned 8-bit, float scale and a learned non-zero zero
    point, asymmetric); QuantConv2d 8->16 (3x3, pad 1) + BatchNorm2d + 8-bit QuantReLU; flatten
    (16*8*8 = 1024); QuantLinear 1024 -> 10 with a float bias; float logits.
    """

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.shifted = qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat,
                                         return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = qnn.QuantReLU(return_quant_tensor=True)
        self.fc = qnn.QuantLinear(16 * 8 * 8, 10, bias=True)

    def forward(self, x):
        x = self.shifted(self.bn1(self.conv1(self.inp(x))))
        x = self.act2(self.bn2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)


class DwSepW4A4(nn.Module):
    """``digits-dwsep-w4a4`` (QONNX): depthwise-separable convolutions, as in MobileNet.

    Unsigned 8-bit input; QuantConv2d 1->16 (3x3, pad 1); then a depthwise QuantConv2d 16->16
    (3x3, pad 1, ``groups=16``: ONNX Conv with ``group`` 16 and weights (16, 1, 3, 3)) and a
    pointwise QuantConv2d 16->32 (1x1), MaxPool2d(2) (8x8 -> 4x4); a depthwise QuantConv2d
    32->32 (3x3, stride 2, pad 1, ``groups=32``: 4x4 -> 2x2) and a pointwise 32->32 (1x1).
    Every conv without bias, followed by BatchNorm2d and a 4-bit QuantReLU; the depthwise
    convs' 4-bit weights have one scale per channel (``Int8WeightPerChannelFloat``: a 3x3
    kernel's range differs a lot from channel to channel), the others one per tensor. Flatten
    (32*2*2 = 128); QuantLinear 128 -> 10 with 4-bit weights and a float bias; float logits.
    """

    def __init__(self):
        super().__init__()
        w4 = dict(weight_bit_width=4, bias=False)
        dw = dict(w4, weight_quant=Int8WeightPerChannelFloat)
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(1, 16, 3, padding=1, **w4)
        self.bn = nn.BatchNorm2d(16)
        self.act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.dw1 = qnn.QuantConv2d(16, 16, 3, padding=1, groups=16, **dw)
        self.dw1_bn = nn.BatchNorm2d(16)
        self.dw1_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pw1 = qnn.QuantConv2d(16, 32, 1, **w4)
        self.pw1_bn = nn.BatchNorm2d(32)
        self.pw1_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool = nn.MaxPool2d(2)
        self.dw2 = qnn.QuantConv2d(32, 32, 3, stride=2, padding=1, groups=32, **dw)
        self.dw2_bn = nn.BatchNorm2d(32)
        self.dw2_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pw2 = qnn.QuantConv2d(32, 32, 1, **w4)
        self.pw2_bn = nn.BatchNorm2d(32)
        self.pw2_act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(32 * 2 * 2, 10, bias=True, weight_bit_width=4)

    def forward(self, x):
        x = self.act(self.bn(self.conv(self.inp(x))))
        x = self.dw1_act(self.dw1_bn(self.dw1(x)))
        x = self.pool(self.pw1_act(self.pw1_bn(self.pw1(x))))
        x = self.dw2_act(self.dw2_bn(self.dw2(x)))
        x = self.pw2_act(self.pw2_bn(self.pw2(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)


# name -> (model class, export format)
MODELS = {
    "digits-mlp-w2a2": (MlpW2A2, "qonnx"),
    "digits-mlp-w4a4-perchannel": (MlpW4A4PerChannel, "qonnx"),
    "digits-cnn-w4a4": (CnnW4A4, "qonnx"),
    "digits-cnn-w1a1": (CnnW1A1, "qonnx"),
    "digits-resnet-w4a4": (ResnetW4A4, "qonnx"),
    "digits-cnn-w8a8-qcdq": (CnnW8A8Qcdq, "qcdq"),
    "digits-cnn-zeropoint-a8": (CnnZeroPointA8, "qonnx"),
    "digits-dwsep-w4a4": (DwSepW4A4, "qonnx"),
}
