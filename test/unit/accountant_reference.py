#!/usr/bin/env python3
"""accountant_reference.py: reference values for test/unit/accountant_test.c.

Computed independently of src/accountant.c, with mpmath at 40 digits:

* Renyi DP of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019):
  A_alpha = E_{z ~ N(0, s^2)} [ ((1 - q) + q exp((2z - 1) / (2 s^2)))^alpha ]
  by numerical integration (mpmath.quad over pieces around the integrand's
  mode), where the C code uses the binomial and erfc series of the paper;
  RDP(alpha) = log(A_alpha) / (alpha - 1).
* DP-SGD epsilon: T steps compose to T RDP(alpha); converted to (eps, delta)
  by Balle et al. 2020 (Theorem 21):
  eps(alpha) = T RDP(alpha) + log1p(-1/alpha) - (log delta + log alpha) / (alpha - 1),
  minimised over real alpha > 1 by golden-section search on log(alpha - 1)
  (the C code scans a grid and refines).
* calibration: the sigma at which eps(sigma) equals the target, by secant
  iterations on sigma (the C code bisects on log sigma).
* zCDP (Canonne, Kamath, Steinke 2020, Proposition 12 / Corollary 13):
  delta(rho, eps) = inf_alpha exp((alpha - 1)(alpha rho - eps)) / (alpha - 1) (1 - 1/alpha)^alpha,
  minimised by golden-section search; eps(rho, delta) and rho(eps, delta) by
  findroot on it (the C code bisects on the derivative, as the paper's code).

Run: python3 test/unit/accountant_reference.py   (prints C initialisers)
"""
import mpmath as mp

mp.mp.dps = 40


def log_integrand(z, q, s, alpha):
    return alpha * mp.log((1 - q) + q * mp.exp((2 * z - 1) / (2 * s * s))) - z * z / (2 * s * s)


def log_a(q, s, alpha):
    if q == 1:
        return alpha * (alpha - 1) / (2 * s * s)
    # the integrand's mode, then integrate over pieces of width s around it
    f = lambda z: mp.diff(lambda x: log_integrand(x, q, s, alpha), z)
    try:
        mode = mp.findroot(f, alpha * q)
    except Exception:
        mode = mp.mpf(0)
    top = log_integrand(mode, q, s, alpha)
    g = lambda z: mp.exp(log_integrand(z, q, s, alpha) - top)
    pts = [mode + k * s for k in range(-60, 61)]
    pts = [-mp.inf] + pts + [mp.inf]
    val = mp.quad(g, pts)
    return top + mp.log(val) - mp.log(s * mp.sqrt(2 * mp.pi))


def rdp(q, s, alpha):
    return log_a(mp.mpf(q), mp.mpf(s), mp.mpf(alpha)) / (mp.mpf(alpha) - 1)


def golden_min(f, lo, hi, iters=120):
    g = (mp.sqrt(5) - 1) / 2
    a, b = mp.mpf(lo), mp.mpf(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2, min(fc, fd)


def dpsgd_eps(q, s, steps, delta, bracket=None):
    """epsilon at the best real order; bracket: (lo, hi) of log(alpha - 1) to search"""
    delta = mp.mpf(delta)

    def eps_at(t):  # t = log(alpha - 1)
        alpha = 1 + mp.exp(t)
        return steps * rdp(q, s, alpha) + mp.log1p(-1 / alpha) - (mp.log(delta) + mp.log(alpha)) / (alpha - 1)
    if bracket is None:
        # coarse scan, then golden section around the best point
        ts = [mp.mpf(k) / 4 for k in range(-20, 37)]   # alpha - 1 in [e^-5, e^9]
        vals = [eps_at(t) for t in ts]
        k = min(range(len(ts)), key=lambda i: vals[i])
        bracket = (ts[max(k - 1, 0)], ts[min(k + 1, len(ts) - 1)])
    t, e = golden_min(eps_at, bracket[0], bracket[1], 60)
    return max(e, 0), 1 + mp.exp(t)


def calibrate(q, steps, delta, target, s0, s1):
    """the sigma whose epsilon is target: secant iterations on sigma, each
    epsilon minimised over a bracket of orders around the previous best"""
    e0, a0 = dpsgd_eps(q, s0, steps, delta)
    e1, a1 = dpsgd_eps(q, s1, steps, delta)
    for _ in range(30):
        s2 = s1 - (e1 - target) * (s1 - s0) / (e1 - e0)
        t = mp.log(a1 - 1)
        e2, a2 = dpsgd_eps(q, s2, steps, delta, (t - mp.mpf('0.75'), t + mp.mpf('0.75')))
        s0, e0, s1, e1, a1 = s1, e1, s2, e2, a2
        if abs(s1 - s0) < mp.mpf('1e-9') * s1:
            break
    return s1


def zcdp_delta(rho, eps):
    rho, eps = mp.mpf(rho), mp.mpf(eps)

    def logd(t):
        alpha = 1 + mp.exp(t)
        return (alpha - 1) * (alpha * rho - eps) - mp.log(alpha - 1) + alpha * mp.log1p(-1 / alpha)
    t, v = golden_min(logd, -30, 30, 200)
    return min(mp.exp(v), 1)


def zcdp_eps(rho, delta):
    return mp.findroot(lambda e: mp.log(zcdp_delta(rho, e)) - mp.log(delta), (mp.mpf(rho), mp.mpf(rho) + 20), solver='anderson')


def zcdp_rho(eps, delta):
    return mp.findroot(lambda r: mp.log(zcdp_delta(r, eps)) - mp.log(delta), (mp.mpf(eps) / 200, mp.mpf(eps)), solver='anderson')


def subsample_inner(eps, p):
    """Poisson subsampling (Balle, Barthe, Gaboardi 2018): the epsilon on the
    sample that amplifies to eps at rate p, log(1 + (e^eps - 1) / p)."""
    eps, p = mp.mpf(eps), mp.mpf(p)
    return mp.log(1 + (mp.exp(eps) - 1) / p)


SUBSAMPLE_CASES = [(1.0, 0.5), (0.99, 0.01), (0.3, 0.001), (3.0, 0.2), (10.0, 0.05)]


def print_subsampling():
    print("/* subsampling: {epsilon, p, epsilon_inner} */")
    for eps, p in SUBSAMPLE_CASES:
        print("{%s, %s, %s}," % (eps, p, mp.nstr(subsample_inner(eps, p), 17)))


def main():
    print("/* RDP of one step: {q, sigma, alpha, rdp} */")
    for q, s, a in [(0.01, 1.0, 2), (0.01, 1.0, 32), (0.01, 1.1, 7.5), (0.004, 1.1, 12.25),
                    (0.1, 2.0, 3.5), (0.1, 0.8, 20), (0.5, 4.0, 1.5), (0.02, 0.7, 64),
                    (0.001, 0.6, 1.25), (1.0, 1.3, 5.5)]:
        print("{%s, %s, %s, %s}," % (q, s, a, mp.nstr(rdp(q, s, a), 17)))
    print("/* DP-SGD: {q, sigma, steps, delta, epsilon} */")
    for q, s, T, d in [(256 / 60000, 1.1, 14040, 1e-5), (0.01, 1.0, 1000, 1e-5),
                       (0.001, 0.8, 10000, 1e-6), (0.05, 2.0, 500, 1e-5), (0.02, 5.0, 100, 1e-6)]:
        e, alpha = dpsgd_eps(q, s, T, d)
        print("{%r, %s, %d, %s, %s},  /* best alpha %s */" % (q, s, T, d, mp.nstr(e, 17), mp.nstr(alpha, 6)))
    print("/* calibration: {q, steps, delta, epsilon, sigma} */")
    for q, T, d, target, s0, s1 in [(0.01, 1000, 1e-5, 1.0, 1.4, 1.6), (256 / 60000, 14040, 1e-5, 3.0, 0.95, 1.1),
                                    (0.002, 5000, 1e-6, 0.5, 1.4, 1.7)]:
        s = calibrate(q, T, d, target, mp.mpf(s0), mp.mpf(s1))
        print("{%r, %d, %s, %s, %s}," % (q, T, d, target, mp.nstr(s, 17)))
    print("/* zCDP delta: {rho, epsilon, delta} */")
    for rho, eps in [(0.025, 1.0), (0.1, 2.0), (0.5, 5.0), (0.01, 0.5), (1.0, 6.0)]:
        print("{%s, %s, %s}," % (rho, eps, mp.nstr(zcdp_delta(rho, eps), 17)))
    print("/* zCDP epsilon: {rho, delta, epsilon} */")
    for rho, d in [(0.025, 1e-6), (0.1, 1e-5), (0.005, 1e-9), (2.0, 1e-6)]:
        print("{%s, %s, %s}," % (rho, d, mp.nstr(zcdp_eps(rho, d), 17)))
    print("/* zCDP rho: {epsilon, delta, rho} */")
    for eps, d in [(1.0, 1e-6), (0.3, 1e-6), (3.0, 1e-5), (10.0, 1e-9)]:
        print("{%s, %s, %s}," % (eps, d, mp.nstr(zcdp_rho(eps, d), 17)))
    print_subsampling()


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--calibration"]:
        print("/* calibration: {q, steps, delta, epsilon, sigma} */")
        for q, T, d, target, s0, s1 in [(0.01, 1000, 1e-5, 1.0, 1.4, 1.6), (256 / 60000, 14040, 1e-5, 3.0, 0.95, 1.1),
                                        (0.002, 5000, 1e-6, 0.5, 1.4, 1.7)]:
            s = calibrate(q, T, d, target, mp.mpf(s0), mp.mpf(s1))
            print("{%r, %d, %s, %s, %s}," % (q, T, d, target, mp.nstr(s, 17)), flush=True)
    elif sys.argv[1:] == ["--subsampling"]:
        print_subsampling()
    else:
        main()
