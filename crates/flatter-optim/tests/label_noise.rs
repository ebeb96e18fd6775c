//! Label-noise statistics over many draws, and the expected loss.
#![cfg(feature = "burn")] // the optimizer and the label noise need Burn

use burn::tensor::{Int, Tensor, TensorData};
use flatter_device::BackendKind;
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{ExpectedLoss, GaussianTargetNoise, LabelFlip};

#[test]
fn gaussian_noise_has_mean_zero_and_variance_eps_squared() {
    let eps = 0.3;
    let noise = GaussianTargetNoise::new(eps).unwrap();
    let mut rng = Streams::new(11).rng(RandomStream::LabelNoise);
    let n = 200_000;
    let xs: Vec<f64> = noise.sample(n, &mut rng).into_iter().map(f64::from).collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // 4σ bands: σ(mean) = ε/√n, σ(var) = ε²√(2/(n−1)).
    assert!(mean.abs() < 4.0 * eps / (n as f64).sqrt(), "mean {mean}");
    assert!((var - eps * eps).abs() < 4.0 * eps * eps * (2.0 / (n - 1) as f64).sqrt(), "var {var}");
    // Fourth moment: Gaussian kurtosis 3 (σ of the estimate ≈ √(96/n)).
    let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
    assert!((kurt - 3.0).abs() < 4.0 * (96.0 / n as f64).sqrt(), "kurtosis {kurt}");
}

#[test]
fn gaussian_noise_is_fresh_each_call_and_reproducible_per_seed() {
    let noise = GaussianTargetNoise::new(1.0).unwrap();
    let mut rng = Streams::new(5).rng(RandomStream::LabelNoise);
    let a = noise.sample(8, &mut rng);
    let b = noise.sample(8, &mut rng);
    assert_ne!(a, b, "two steps must draw different noise");
    let mut again = Streams::new(5).rng(RandomStream::LabelNoise);
    assert_eq!(noise.sample(8, &mut again), a);
}

#[test]
fn gaussian_noise_on_a_tensor_adds_the_same_draws() {
    let device = BackendKind::DEFAULT.device().unwrap();
    let noise = GaussianTargetNoise::new(0.5).unwrap();
    let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]), &device);
    let noisy = noise.apply(y, &mut Streams::new(3).rng(RandomStream::LabelNoise));
    let draws = noise.sample(6, &mut Streams::new(3).rng(RandomStream::LabelNoise));
    let got: Vec<f32> = noisy.into_data().convert::<f32>().try_into_vec().unwrap();
    for (i, (g, d)) in got.iter().zip(&draws).enumerate() {
        assert!((g - (i as f32 + 1.0) - d).abs() < 1e-6);
    }
    let zero = GaussianTargetNoise::new(0.0).unwrap();
    let y = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &device);
    assert_eq!(zero.apply(y.clone(), &mut Streams::new(3).rng(RandomStream::LabelNoise)).into_data(), y.into_data());
}

#[test]
fn flips_happen_at_rate_p_never_to_the_true_label_and_uniformly_among_wrong_ones() {
    let (p, k) = (0.2, 10usize);
    let flip = LabelFlip::new(p, k).unwrap();
    let mut rng = Streams::new(1).rng(RandomStream::LabelNoise);
    let n = 100_000;
    let labels: Vec<i64> = (0..n).map(|i| (i % k) as i64).collect();
    let noisy = flip.flip(&labels, &mut rng).unwrap();
    let flipped = labels.iter().zip(&noisy).filter(|(a, b)| a != b).count();
    let rate = flipped as f64 / n as f64;
    assert!((rate - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(), "flip rate {rate}");
    // Among the flips of true class 3, each of the other 9 classes gets 1/9.
    let mut counts = vec![0usize; k];
    for (&a, &b) in labels.iter().zip(&noisy) {
        if a == 3 && b != a {
            counts[b as usize] += 1;
        }
        assert!((0..k as i64).contains(&b));
    }
    assert_eq!(counts[3], 0);
    let total: usize = counts.iter().sum();
    let q = 1.0 / (k - 1) as f64;
    for (class, &c) in counts.iter().enumerate().filter(|(c, _)| *c != 3) {
        let expected = total as f64 * q;
        assert!((c as f64 - expected).abs() < 4.0 * (total as f64 * q * (1.0 - q)).sqrt(), "class {class}: {c} vs {expected}");
    }
}

#[test]
fn every_flip_changes_the_label_when_p_is_one() {
    let flip = LabelFlip::new(1.0, 2).unwrap();
    let labels = vec![0i64, 1, 1, 0, 1];
    let noisy = flip.flip(&labels, &mut Streams::new(0).rng(RandomStream::LabelNoise)).unwrap();
    assert_eq!(noisy, vec![1, 0, 0, 1, 0]);
}

#[test]
fn flips_are_fresh_each_step_and_reproducible_per_seed() {
    let flip = LabelFlip::new(0.5, 10).unwrap();
    let labels: Vec<i64> = (0..64).map(|i| i % 10).collect();
    let mut rng = Streams::new(9).rng(RandomStream::LabelNoise);
    let a = flip.flip(&labels, &mut rng).unwrap();
    let b = flip.flip(&labels, &mut rng).unwrap();
    assert_ne!(a, b);
    let mut again = Streams::new(9).rng(RandomStream::LabelNoise);
    assert_eq!(flip.flip(&labels, &mut again).unwrap(), a);
    let mut other = Streams::new(10).rng(RandomStream::LabelNoise);
    assert_ne!(flip.flip(&labels, &mut other).unwrap(), a);
}

#[test]
fn flip_on_a_tensor_matches_flip_on_a_slice() {
    let device = BackendKind::DEFAULT.device().unwrap();
    let flip = LabelFlip::new(0.3, 5).unwrap();
    let labels: Vec<i64> = (0..40).map(|i| i % 5).collect();
    let t = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [40]), &device);
    let got: Vec<i64> = flip
        .apply(t, &mut Streams::new(2).rng(RandomStream::LabelNoise))
        .unwrap()
        .into_data()
        .convert::<i64>()
        .try_into_vec()
        .unwrap();
    assert_eq!(got, flip.flip(&labels, &mut Streams::new(2).rng(RandomStream::LabelNoise)).unwrap());
}

#[test]
fn bad_noise_settings_name_the_field() {
    let msg = |e: flatter_optim::LabelNoiseError| e.to_string();
    assert!(msg(GaussianTargetNoise::new(-0.1).unwrap_err()).contains("label_noise_std = -0.1"));
    assert!(msg(LabelFlip::new(1.5, 10).unwrap_err()).contains("0 <= label_noise_prob <= 1"));
    assert!(msg(LabelFlip::new(0.2, 1).unwrap_err()).contains("num_classes >= 2"));
    assert!(msg(ExpectedLoss::new(1.0, 10).unwrap_err()).contains("label_noise_prob < 1"));
    let err = LabelFlip::new(0.2, 10).unwrap().flip(&[3, 10], &mut Streams::new(0).rng(RandomStream::LabelNoise));
    assert!(msg(err.unwrap_err()).contains("label 10 at index 1"));
}

fn logits_and_labels(rows: &[[f64; 4]], labels: &[i64]) -> (Tensor<2>, Tensor<1, Int>) {
    let device = BackendKind::DEFAULT.device().unwrap();
    let flat: Vec<f32> = rows.iter().flatten().map(|&x| x as f32).collect();
    (
        Tensor::from_data(TensorData::new(flat, [rows.len(), 4]), &device),
        Tensor::from_data(TensorData::new(labels.to_vec(), [labels.len()]), &device),
    )
}

#[test]
fn expected_loss_is_zero_at_the_soft_target_and_positive_elsewhere() {
    let loss = ExpectedLoss::new(0.2, 4).unwrap();
    let (q_on, q_off): (f64, f64) = (0.8, 0.2 / 3.0);
    let at_optimum = [[q_on.ln(), q_off.ln(), q_off.ln(), q_off.ln()], [q_off.ln(), q_off.ln(), q_on.ln(), q_off.ln()]];
    let (logits, labels) = logits_and_labels(&at_optimum, &[0, 2]);
    let value = loss.loss(logits, labels).into_scalar::<f32>();
    assert!(value.abs() < 1e-6, "loss at optimum {value}");

    for rows in [[[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, 2.0]], [[5.0, -5.0, -5.0, -5.0], [0.0, 0.0, 9.0, 0.0]]] {
        let (logits, labels) = logits_and_labels(&rows, &[0, 2]);
        let value = loss.loss(logits, labels).into_scalar::<f32>();
        // Hand computation in f64: mean of −Σ q log softmax − H(q).
        let h = -(q_on * q_on.ln()) - 3.0 * q_off * q_off.ln();
        let want: f64 = rows
            .iter()
            .zip([0usize, 2])
            .map(|(r, y)| {
                let lse = r.iter().map(|x| x.exp()).sum::<f64>().ln();
                -(0..4).map(|j| if j == y { q_on } else { q_off } * (r[j] - lse)).sum::<f64>() - h
            })
            .sum::<f64>()
            / 2.0;
        assert!(value > 1e-3, "loss away from optimum must be positive: {value}");
        assert!((value as f64 - want).abs() < 1e-5 * want.max(1.0), "{value} vs {want}");
    }
    assert!((loss.minimum() - (-(0.8f64.ln() * 0.8) - 0.2 * (0.2f64 / 3.0).ln())).abs() < 1e-12);
}

#[test]
fn hard_cross_entropy_is_expected_loss_with_p_zero() {
    let (logits, labels) = logits_and_labels(&[[1.0, 2.0, 3.0, 4.0]], &[3]);
    let value = ExpectedLoss::hard(4).unwrap().loss(logits, labels).into_scalar::<f32>();
    let lse = [1.0f64, 2.0, 3.0, 4.0].iter().map(|x| x.exp()).sum::<f64>().ln();
    assert!((value as f64 - (lse - 4.0)).abs() < 1e-6);
}
