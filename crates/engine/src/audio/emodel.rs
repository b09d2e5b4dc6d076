//! The simplified E-model: network delay, jitter and loss → R factor → MOS.
//!
//! See the [module docs](super#the-mos-estimate) for the formula and where it comes from.

/// Where R starts before any impairment: the simplified E-model's default R₀ − Is.
const R_BASE: f64 = 93.2;

/// Delay the model adds for codec and packetization, in milliseconds.
const CODEC_DELAY_MS: f64 = 10.0;

/// Effective latency (ms) at which the delay impairment steepens (the Id "knee").
const DELAY_KNEE_MS: f64 = 160.0;

/// R points lost per unit of the loss term (percent for voicetk, a ratio for scv).
const LOSS_WEIGHT: f64 = 2.5;

/// voicetk's R factor for one interval, clamped to `[0, 100]`.
///
/// `latency_ms` is the delay term. [`mos`] passes the round-trip time here, as Salesforce's
/// `scv-connector-base` does, which counts the network delay twice and so errs on the
/// pessimistic side. `jitter_ms` is the mean interarrival jitter and `loss_percent` the share
/// of expected packets lost, `0.0..=100.0`.
///
/// Inputs are made sane first, so the result is always a number in `[0, 100]`: NaN and negative
/// delay or jitter count as 0, +∞ delay or jitter gives R = 0, and `loss_percent` is clamped to
/// `[0, 100]` (NaN counts as 0). With sane inputs R never exceeds 92.95 (zero delay, zero
/// loss), so the upper clamp only documents the range.
///
/// # Examples
/// ```
/// use voicetk_engine::audio::r_factor;
/// // 50 ms latency, 10 ms jitter → effective latency 80 ms → R = 93.2 − 80/40 = 91.2
/// assert!((r_factor(50.0, 10.0, 0.0) - 91.2).abs() < 1e-12);
/// // 1 % loss costs 2.5 points.
/// assert!((r_factor(50.0, 10.0, 1.0) - 88.7).abs() < 1e-12);
/// // Total loss floors at 0.
/// assert_eq!(r_factor(0.0, 0.0, 100.0), 0.0);
/// ```
pub fn r_factor(latency_ms: f64, jitter_ms: f64, loss_percent: f64) -> f64 {
    let loss = if loss_percent.is_nan() {
        0.0
    } else {
        loss_percent.clamp(0.0, 100.0)
    };
    let r = r_simplified(non_negative(latency_ms), non_negative(jitter_ms), loss);
    if r.is_nan() { 0.0 } else { r.clamp(0.0, 100.0) }
}

/// The ITU-T G.107 mapping from R to MOS, with R clamped to `[0, 100]` and MOS to `[1.0, 4.5]`.
///
/// `MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)`. The raw polynomial dips slightly below
/// 1.0 for R under about 6.5; the clamp keeps it at 1.0 there, as G.107 prescribes for R < 0.
/// NaN maps to 1.0: no usable estimate is treated as the worst one.
///
/// # Examples
/// ```
/// use voicetk_engine::audio::mos_from_r;
/// assert_eq!(mos_from_r(0.0), 1.0);
/// assert_eq!(mos_from_r(100.0), 4.5);
/// assert_eq!(mos_from_r(-20.0), 1.0);
/// assert!((mos_from_r(93.2) - 4.41).abs() < 0.01);
/// ```
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() {
        return 1.0;
    }
    mos_polynomial(r.clamp(0.0, 100.0)).clamp(1.0, 4.5)
}

/// voicetk's MOS estimate: [`mos_from_r`]`(`[`r_factor`]`(rtt_ms, jitter_ms, loss_percent))`,
/// always in `[1.0, 4.5]`.
///
/// This is the value AUDIO_STATS carries in `detail.mos`. It is the `scv-connector-base`
/// formula ([`mos_unclamped_scv`]) with two deliberate differences: loss enters as a
/// *percentage* (scv feeds the loss *ratio* into the same 2.5-per-unit slot, which makes 100 %
/// loss cost only 2.5 R points), and R and MOS are clamped.
///
/// # Examples
/// ```
/// use voicetk_engine::audio::mos;
/// let clean = mos(40.0, 5.0, 0.0);
/// assert!(clean > 4.3 && clean <= 4.5);
/// assert!(mos(40.0, 5.0, 5.0) < clean);
/// assert_eq!(mos(40.0, 5.0, 100.0), 1.0);
/// ```
pub fn mos(rtt_ms: f64, jitter_ms: f64, loss_percent: f64) -> f64 {
    mos_from_r(r_factor(rtt_ms, jitter_ms, loss_percent))
}

/// The MOS exactly as Salesforce's `scv-connector-base` computes it per channel: no clamping,
/// no input checks, loss as the ratio `packets_lost / packets_count`.
///
/// scv first averages each of its four sums over `statsCount` samples; pass those averages (or
/// one sample's values). Kept to show voicetk agrees with scv where their inputs mean the same
/// thing, and to reproduce scv's numbers when comparing dashboards. Like the JavaScript, it
/// returns NaN when `packets_count` is 0 and can leave `[1.0, 4.5]` for extreme inputs.
///
/// # Examples
/// ```
/// use voicetk_engine::audio::mos_unclamped_scv;
/// // scv-connector-base's own test vector: rtt 30 ms, jitter 10 ms, 2 of 10 packets lost.
/// assert_eq!(mos_unclamped_scv(30.0, 10.0, 2.0, 10.0), 4.3672791040000005);
/// assert!(mos_unclamped_scv(30.0, 10.0, 0.0, 0.0).is_nan());
/// ```
pub fn mos_unclamped_scv(
    rtt_ms: f64,
    jitter_ms: f64,
    packets_lost: f64,
    packets_count: f64,
) -> f64 {
    mos_polynomial(r_simplified(
        rtt_ms,
        jitter_ms,
        packets_lost / packets_count,
    ))
}

/// `93.2 − Id(effective latency) − 2.5 · loss`, in the same operation order as scv so that
/// [`mos_unclamped_scv`] matches its results bit for bit.
fn r_simplified(latency_ms: f64, jitter_ms: f64, loss: f64) -> f64 {
    let effective = latency_ms + jitter_ms * 2.0 + CODEC_DELAY_MS;
    let r = if effective < DELAY_KNEE_MS {
        R_BASE - effective / 40.0
    } else {
        R_BASE - (effective - 120.0) / 10.0
    };
    r - loss * LOSS_WEIGHT
}

/// G.107's R → MOS polynomial, unclamped.
fn mos_polynomial(r: f64) -> f64 {
    1.0 + 0.035 * r + 0.000007 * r * (r - 60.0) * (100.0 - r)
}

/// NaN and negative values carry no delay; +∞ stays +∞ (and drives R to its floor).
fn non_negative(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 { 0.0 } else { x }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reproduces_scv_connector_base_test_vectors_exactly() {
        // scv-connector-base's baseConnector tests: inputChannelStats {count 10, lost 2,
        // jitter 10, rtt 30} and outputChannelStats {count 20, lost 1, jitter 20, rtt 40}.
        assert_eq!(mos_unclamped_scv(30.0, 10.0, 2.0, 10.0), 4.3672791040000005);
        assert_eq!(mos_unclamped_scv(40.0, 20.0, 1.0, 20.0), 4.358684488140626);
    }

    #[test]
    fn scv_variant_is_unclamped_and_keeps_js_nan() {
        assert!(mos_unclamped_scv(0.0, 0.0, 0.0, 0.0).is_nan());
        // A 5 s round trip drives R far below 0; the raw polynomial then leaves [1, 4.5].
        let r = 93.2 - (5000.0 + 10.0 - 120.0) / 10.0;
        assert!(r < 0.0);
        assert!(mos_unclamped_scv(5000.0, 0.0, 0.0, 1.0) > 4.5);
    }

    #[test]
    fn voicetk_mos_equals_scv_formula_when_loss_means_the_same() {
        // With no loss the two agree exactly; scv's ratio slot gets the percentage in voicetk.
        for (rtt, jit) in [(30.0, 10.0), (40.0, 20.0), (0.0, 0.0), (120.0, 30.0)] {
            assert_eq!(mos(rtt, jit, 0.0), mos_unclamped_scv(rtt, jit, 0.0, 1.0));
        }
        assert_eq!(
            mos(30.0, 10.0, 20.0),
            mos_unclamped_scv(30.0, 10.0, 20.0, 1.0)
        );
    }

    #[test]
    fn r_factor_piecewise_delay_and_loss() {
        // Below the knee: 93.2 − eff/40.
        assert!((r_factor(30.0, 10.0, 0.0) - 91.7).abs() < 1e-12);
        // Above: 93.2 − (eff − 120)/10; eff = 300 + 2·20 + 10 = 350.
        assert!((r_factor(300.0, 20.0, 0.0) - 70.2).abs() < 1e-12);
        // Continuous at the knee (eff = 160).
        let below = r_factor(149.999_999, 0.0, 0.0);
        let at = r_factor(150.0, 0.0, 0.0);
        assert!((below - at).abs() < 1e-6);
        assert!((at - 89.2).abs() < 1e-12);
        // 2.5 R points per percent.
        assert!((r_factor(30.0, 10.0, 2.0) - (91.7 - 5.0)).abs() < 1e-12);
    }

    #[test]
    fn r_factor_sanitizes_inputs() {
        assert_eq!(
            r_factor(f64::NAN, f64::NAN, f64::NAN),
            r_factor(0.0, 0.0, 0.0)
        );
        assert_eq!(r_factor(-50.0, -3.0, -1.0), r_factor(0.0, 0.0, 0.0));
        assert_eq!(r_factor(f64::INFINITY, 0.0, 0.0), 0.0);
        assert_eq!(r_factor(0.0, f64::INFINITY, 0.0), 0.0);
        assert_eq!(r_factor(0.0, 0.0, f64::INFINITY), 0.0);
        assert_eq!(r_factor(0.0, 0.0, 1000.0), r_factor(0.0, 0.0, 100.0));
        assert_eq!(r_factor(0.0, 0.0, 0.0), 92.95);
    }

    #[test]
    fn mos_clamps_at_the_extremes() {
        assert_eq!(mos(0.0, 0.0, 100.0), 1.0);
        assert_eq!(mos(20.0, 2.0, 100.0), 1.0);
        assert_eq!(mos(10_000.0, 0.0, 0.0), 1.0);
        let perfect = mos(0.0, 0.0, 0.0);
        assert!(perfect <= 4.5);
        assert!((perfect - mos_polynomial(92.95)).abs() < 1e-15);
        // The raw polynomial dips under 1 for small R; the clamp holds it at 1.
        assert!(mos_polynomial(3.0) < 1.0);
        assert_eq!(mos_from_r(3.0), 1.0);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        assert_eq!(mos_from_r(f64::INFINITY), 4.5);
        assert_eq!(mos_from_r(250.0), 4.5);
    }

    proptest! {
        #[test]
        fn mos_is_always_in_range(rtt in any::<f64>(), jit in any::<f64>(), loss in any::<f64>()) {
            let r = r_factor(rtt, jit, loss);
            prop_assert!((0.0..=100.0).contains(&r));
            let m = mos(rtt, jit, loss);
            prop_assert!((1.0..=4.5).contains(&m), "mos {m}");
        }

        #[test]
        fn worse_network_never_raises_mos(
            rtt in 0.0f64..2000.0, jit in 0.0f64..500.0, loss in 0.0f64..100.0,
            more_rtt in 0.0f64..500.0, more_jit in 0.0f64..100.0, more_loss in 0.0f64..20.0,
        ) {
            let base = mos(rtt, jit, loss);
            prop_assert!(mos(rtt + more_rtt, jit, loss) <= base);
            prop_assert!(mos(rtt, jit + more_jit, loss) <= base);
            prop_assert!(mos(rtt, jit, loss + more_loss) <= base);
        }
    }
}
