//! The 6-layer MLP of the Fashion-MNIST experiment (Fig. 5, App. A.4).
//!
//! Six linear layers: activation A after each of the first four, activation B
//! after the fifth, and the sixth maps to the logits. The paper blanks the
//! activations and the widths, so both come from the experiment config.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::harness::Activation;

/// Sizes and activations of an [`Mlp`] (a Burn `Config`: serde and `new`).
#[derive(Config, Debug, PartialEq)]
pub struct MlpConfig {
    /// Input features (784 for 28×28 images).
    pub input: usize,
    /// The five hidden widths (outputs of layers 1–5).
    pub hidden: [usize; 5],
    /// Number of classes (outputs of layer 6).
    pub classes: usize,
    /// Activation A, after layers 1–4.
    pub activation_a: Activation,
    /// Activation B, after layer 5.
    pub activation_b: Activation,
}

/// The 6-layer MLP. See the module docs.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The six layers, input first. Burn's `Linear` computes x W + b with W `[in, out]`.
    pub layers: Vec<Linear>,
    /// Activation A (layers 1–4).
    #[module(skip)]
    pub activation_a: Activation,
    /// Activation B (layer 5).
    #[module(skip)]
    pub activation_b: Activation,
}

impl MlpConfig {
    /// Fig. 5's network on 28×28 images at hidden width `width`: 784-width×5-10,
    /// ReLU after layers 1–4 and tanh after layer 5.
    pub fn fig5(width: usize) -> Self {
        MlpConfig { input: 784, hidden: [width; 5], classes: 10, activation_a: Activation::Relu, activation_b: Activation::Tanh }
    }

    /// A model with Burn's default initialisation (Kaiming-uniform weights and
    /// biases, drawn from the device's seeded RNG).
    pub fn init(&self, device: &Device) -> Mlp {
        let mut sizes = vec![self.input];
        sizes.extend(self.hidden);
        sizes.push(self.classes);
        let layers = sizes.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        Mlp { layers, activation_a: self.activation_a, activation_b: self.activation_b }
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        let mut sizes = vec![self.input];
        sizes.extend(self.hidden);
        sizes.push(self.classes);
        sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }
}

impl Mlp {
    /// Logits `[N, classes]` for inputs `[N, input]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            x = match i {
                0..=3 => self.activation_a.apply(x),
                4 => self.activation_b.apply(x),
                _ => x,
            };
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::{relu, tanh};
    use flatter_device::BackendKind;

    #[test]
    fn six_layers_with_a_after_four_and_b_after_the_fifth() {
        let device = BackendKind::DEFAULT.device().unwrap();
        let config = MlpConfig { input: 7, hidden: [5, 4, 6, 3, 5], classes: 3, activation_a: Activation::Relu, activation_b: Activation::Tanh };
        let model = config.init(&device);
        assert_eq!(model.layers.len(), 6);
        assert_eq!(model.num_params(), config.num_params());
        let x = Tensor::<2>::random([4, 7], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let mut h = x.clone();
        for (i, l) in model.layers.iter().enumerate() {
            h = h.matmul(l.weight.val()) + l.bias.as_ref().unwrap().val().unsqueeze();
            h = if i < 4 { relu(h) } else if i == 4 { tanh(h) } else { h };
        }
        let got = model.forward(x);
        assert_eq!(got.dims(), [4, 3]);
        got.into_data().assert_approx_eq::<f32>(&h.into_data(), burn::tensor::Tolerance::absolute(1e-6));
    }
}
