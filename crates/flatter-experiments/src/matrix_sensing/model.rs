//! Matrix sensing (App. A.2, D): y_i = ⟨A_i, Y*⟩, model Y = U V.
//!
//! Everything is written for R stacked runs: U is `[R, d, h]`, V is
//! `[R, h, d]`, and the n measurement matrices are flattened once into
//! `a_flat`, `[n, d²]`, so that the n measurements of every run are one
//! matmul: ⟨A_i, UV⟩ = vec(UV) · vec(A_i).

use burn::tensor::Tensor;

/// ⟨A_i, U_r V_r⟩ for every run r and measurement i, `[R, n]`.
/// `u`: `[R, d, h]`, `v`: `[R, h, d]`, `a_flat_t`: `[d², n]` (vec(A_i) in column i).
pub fn stacked_measurements(u: Tensor<3>, v: Tensor<3>, a_flat_t: Tensor<2>) -> Tensor<2> {
    let [runs, d, _] = u.dims();
    u.matmul(v).reshape([runs, d * d]).matmul(a_flat_t)
}

/// The Hessian trace of the noise-free loss on the valley, eq. (129):
/// tr(Uᵀ Σ_U U) + tr(V Σ_V Vᵀ) with Σ_U = (1/n) Σ A_i A_iᵀ and Σ_V = (1/n) Σ A_iᵀ A_i,
/// per run, `[R, 1]`. `sigma_u`, `sigma_v`: `[1, d, d]`.
pub fn stacked_hessian_trace(u: Tensor<3>, v: Tensor<3>, sigma_u: Tensor<3>, sigma_v: Tensor<3>) -> Tensor<2> {
    let [runs, _, _] = u.dims();
    let left = (sigma_u.matmul(u.clone()) * u).reshape([runs as i32, -1]).sum_dim(1);
    let right = (v.clone().matmul(sigma_v) * v).reshape([runs as i32, -1]).sum_dim(1);
    left + right
}

/// ‖U_r V_r − Y*‖²_F per run, `[R, 1]` (the expected test error of eq. 13 up to a constant).
/// `target`: `[1, d, d]`.
pub fn stacked_test_error(u: Tensor<3>, v: Tensor<3>, target: Tensor<3>) -> Tensor<2> {
    let [runs, _, _] = u.dims();
    (u.matmul(v) - target).powi_scalar(2).reshape([runs as i32, -1]).sum_dim(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};
    use flatter_device::BackendKind;

    fn host(t: Tensor<3>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_into_vec().unwrap()
    }

    #[test]
    fn measurements_are_inner_products_with_each_a() {
        let device = BackendKind::DEFAULT.device().unwrap();
        let (runs, d, h, n) = (2, 3, 2, 4);
        let u = Tensor::<3>::random([runs, d, h], Distribution::Normal(0.0, 1.0), &device);
        let v = Tensor::<3>::random([runs, h, d], Distribution::Normal(0.0, 1.0), &device);
        let a = Tensor::<3>::random([n, d, d], Distribution::Normal(0.0, 1.0), &device);
        let a_flat_t = a.clone().reshape([n, d * d]).transpose();
        let got: Vec<f64> = stacked_measurements(u.clone(), v.clone(), a_flat_t).into_data().convert::<f64>().try_into_vec().unwrap();
        let (uh, vh, ah) = (host(u), host(v), host(a));
        for r in 0..runs {
            for i in 0..n {
                let mut want = 0.0;
                for p in 0..d {
                    for q in 0..d {
                        let y: f64 = (0..h).map(|k| uh[r * d * h + p * h + k] * vh[r * h * d + k * d + q]).sum();
                        want += y * ah[i * d * d + p * d + q];
                    }
                }
                assert!((got[r * n + i] - want).abs() < 1e-4 * want.abs().max(1.0), "r {r} i {i}");
            }
        }
    }

    #[test]
    fn hessian_trace_matches_finite_differences_on_the_valley() {
        // On the valley (residuals zero) the Hessian of L = (1/2n) Σ (⟨A_i, UV⟩ − y_i)²
        // is the Gauss–Newton matrix, whose trace is (1/n) Σ_i ‖∂_θ ⟨A_i, UV⟩‖²; eq. (129)
        // must equal it. Finite differences of the measurements give the Jacobian.
        let device = BackendKind::DEFAULT.device().unwrap();
        let (d, h, n) = (3, 2, 5);
        let u = Tensor::<3>::random([1, d, h], Distribution::Normal(0.0, 1.0), &device);
        let v = Tensor::<3>::random([1, h, d], Distribution::Normal(0.0, 1.0), &device);
        let a = Tensor::<3>::random([n, d, d], Distribution::Normal(0.0, 1.0), &device);
        let a_h = host(a.clone());
        let sigma = |transpose: bool| {
            let mut s = vec![0.0f32; d * d];
            for i in 0..n {
                for p in 0..d {
                    for q in 0..d {
                        let acc: f64 = (0..d)
                            .map(|k| {
                                let (x, y) = if transpose { (a_h[i * d * d + k * d + p], a_h[i * d * d + k * d + q]) } else { (a_h[i * d * d + p * d + k], a_h[i * d * d + q * d + k]) };
                                x * y
                            })
                            .sum();
                        s[p * d + q] += (acc / n as f64) as f32;
                    }
                }
            }
            Tensor::<3>::from_data(TensorData::new(s, [1, d, d]), &device)
        };
        let closed = stacked_hessian_trace(u.clone(), v.clone(), sigma(false), sigma(true)).into_scalar::<f64>();
        let a_flat_t = a.reshape([n, d * d]).transpose();
        let meas = |u: Vec<f64>, v: Vec<f64>| -> Vec<f64> {
            let t = |x: Vec<f64>, s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(x, s), &device);
            stacked_measurements(t(u, [1, d, h]), t(v, [1, h, d]), a_flat_t.clone()).into_data().convert::<f64>().try_into_vec().unwrap()
        };
        let (uh, vh) = (host(u), host(v));
        let step = 1e-2;
        let mut gn = 0.0;
        for which in 0..2 {
            let len = if which == 0 { uh.len() } else { vh.len() };
            for j in 0..len {
                let (mut up, mut vp, mut um, mut vm) = (uh.clone(), vh.clone(), uh.clone(), vh.clone());
                if which == 0 {
                    up[j] += step;
                    um[j] -= step;
                } else {
                    vp[j] += step;
                    vm[j] -= step;
                }
                let (plus, minus) = (meas(up, vp), meas(um, vm));
                gn += plus.iter().zip(&minus).map(|(p, m)| ((p - m) / (2.0 * step)).powi(2)).sum::<f64>() / n as f64;
            }
        }
        assert!((closed - gn).abs() < 2e-3 * gn, "eq. (129) {closed} vs Gauss-Newton trace {gn}");
    }
}
