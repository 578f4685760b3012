/*-------------------------------------------------------------------------
 *
 * accountant.c
 *	  The privacy accountant: Renyi DP of the sampled Gaussian mechanism
 *	  (DP-SGD), zero-concentrated DP (zCDP) of Gaussian measurements and of
 *	  the exponential mechanism, and their conversions to (epsilon, delta).
 *
 * Sampled Gaussian: Mironov, Talwar, Zhang, "Renyi Differential Privacy of
 * the Sampled Gaussian Mechanism" (2019), Section 3.3: with Poisson sampling
 * at rate q and Gaussian noise of standard deviation sigma times the
 * sensitivity, the order-alpha RDP of one step is log(A_alpha) / (alpha - 1)
 * with A_alpha a finite binomial sum for integer alpha and two series of
 * erfc terms for fractional alpha.  T steps compose to T times that.  The
 * assumption is Poisson sampling (each row in each step independently with
 * probability q) under add/remove-one-row neighbours: the caller must sample
 * exactly so.
 *
 * (epsilon, delta) from RDP: Balle, Barthe, Gaboardi, Hsu, Sato,
 * "Hypothesis Testing Interpretations and Renyi Differential Privacy"
 * (AISTATS 2020), Theorem 21, minimised over the order.
 *
 * zCDP: Bun and Steinke 2016; a Gaussian (or discrete Gaussian, Canonne,
 * Kamath, Steinke 2020, Theorem 14) of variance sigma^2 on a query of L2
 * sensitivity D is D^2 / (2 sigma^2)-zCDP; the exponential mechanism with
 * parameter epsilon is epsilon^2 / 8-zCDP (Cesar and Rogers 2021); rho's add
 * up; rho-zCDP implies (epsilon, delta)-DP with the conversion of CKS 2020,
 * Corollary 13, minimised over the order as in the paper's code.
 *
 * Amplification by subsampling: Balle, Barthe, Gaboardi, "Privacy
 * Amplification by Subsampling: Tight Analyses via Couplings and
 * Divergences" (NeurIPS 2018), Theorem 8 (Poisson subsampling, add/remove
 * neighbours): a mechanism that is (epsilon', delta')-DP with respect to its
 * input, run on a Poisson sample of a table at rate p, is (log(1 + p
 * (e^epsilon' - 1)), p delta')-DP with respect to the table.
 *
 * Every conversion errs on the safe side: a search that stops early yields a
 * larger epsilon or delta, never a smaller one.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "privacy.h"

#include <math.h>

#define LOG_A_MAX_TERMS		20000
#define LOG_A_TOLERANCE		40.0	/* stop when terms are e^-40 of the sum */
#define LOG_A_MAX_FRACTIONAL	256.0	/* above, the series loses digits to cancellation */

/* log(exp(a) + exp(b)) */
static double
log_add(double a, double b)
{
	double		hi = Max(a, b),
				lo = Min(a, b);

	if (lo == -INFINITY)
		return hi;
	return hi + log1p(exp(lo - hi));
}

/* log(exp(a) - exp(b)) for a >= b */
static double
log_sub(double a, double b)
{
	if (b == -INFINITY)
		return a;
	if (b >= a)
		return -INFINITY;
	return a + log1p(-exp(b - a));
}

/* log(erfc(x)), stable where erfc underflows (asymptotic series). */
static double
log_erfc(double x)
{
	double		x2,
				series;

	if (x < 20.0)
		return log(erfc(x));
	x2 = x * x;
	series = 1.0 - 1.0 / (2 * x2) + 3.0 / (4 * x2 * x2) - 15.0 / (8 * x2 * x2 * x2) +
		105.0 / (16 * x2 * x2 * x2 * x2);
	return -x2 - log(x) - 0.5 * log(M_PI) + log(series);
}

/* log C(n, k) for real n >= k >= 0 */
static double
log_binomial(double n, double k)
{
	return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/* log(A_alpha) for integer alpha: a finite binomial sum. */
static double
log_a_integer(double q, double sigma, int alpha)
{
	double		log_a = -INFINITY;

	for (int i = 0; i <= alpha; i++)
	{
		double		term = log_binomial(alpha, i) + i * log(q) + (alpha - i) * log1p(-q) +
			((double) i * i - i) / (2 * sigma * sigma);

		log_a = log_add(log_a, term);
	}
	return log_a;
}

/*
 * log(A_alpha) for fractional alpha: the integral split at
 * z0 = sigma^2 log(1/q - 1) + 1/2 into two series of erfc terms.  The
 * generalised binomial coefficient C(alpha, i) changes sign once i > alpha;
 * it is carried as a log-magnitude and a sign.
 */
static double
log_a_fractional(double q, double sigma, double alpha)
{
	double		log_a0 = -INFINITY,
				log_a1 = -INFINITY;
	double		z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
	double		log_coef = 0.0;	/* log |C(alpha, 0)| */
	bool		positive = true;

	for (int i = 0; i < LOG_A_MAX_TERMS; i++)
	{
		double		j = alpha - i;
		double		log_t0 = log_coef + i * log(q) + j * log1p(-q);
		double		log_t1 = log_coef + j * log(q) + i * log1p(-q);
		double		log_e0 = log(0.5) + log_erfc((i - z0) / (M_SQRT2 * sigma));
		double		log_e1 = log(0.5) + log_erfc((z0 - j) / (M_SQRT2 * sigma));
		double		log_s0 = log_t0 + ((double) i * i - i) / (2 * sigma * sigma) + log_e0;
		double		log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;

		if (positive)
		{
			log_a0 = log_add(log_a0, log_s0);
			log_a1 = log_add(log_a1, log_s1);
		}
		else
		{
			log_a0 = log_sub(log_a0, log_s0);
			log_a1 = log_sub(log_a1, log_s1);
		}
		if (i > alpha && Max(log_s0, log_s1) < log_add(log_a0, log_a1) - LOG_A_TOLERANCE)
			break;
		/* C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1) */
		if (alpha - i == 0)
			break;				/* integer alpha: the series ends */
		log_coef += log(fabs(alpha - i)) - log(i + 1.0);
		if (alpha - i < 0)
			positive = !positive;
	}
	return log_add(log_a0, log_a1);
}

/*
 * Renyi DP of order alpha > 1 of one step of the sampled Gaussian mechanism:
 * Poisson sampling rate q, noise standard deviation sigma (in units of the
 * L2 sensitivity).
 */
double
synth_rdp_sampled_gaussian(double q, double sigma, double alpha)
{
	if (q <= 0.0)
		return 0.0;
	if (sigma <= 0.0)
		return INFINITY;
	if (q >= 1.0)
		return alpha / (2 * sigma * sigma);
	if (alpha == floor(alpha))
		return log_a_integer(q, sigma, (int) alpha) / (alpha - 1);
	if (alpha > LOG_A_MAX_FRACTIONAL)
	{
		/* RDP does not decrease with the order: the next integer bounds it */
		alpha = ceil(alpha);
		return log_a_integer(q, sigma, (int) alpha) / (alpha - 1);
	}
	return log_a_fractional(q, sigma, alpha) / (alpha - 1);
}

/* (epsilon, delta) from RDP at one order (Balle et al. 2020, Theorem 21). */
double
synth_rdp_to_epsilon(double alpha, double rdp, double delta)
{
	double		eps = rdp + log1p(-1.0 / alpha) - (log(delta) + log(alpha)) / (alpha - 1);

	return Max(eps, 0.0);
}

static double
dpsgd_epsilon_at(double q, double sigma, int64 steps, double delta, double alpha)
{
	return synth_rdp_to_epsilon(alpha, steps * synth_rdp_sampled_gaussian(q, sigma, alpha), delta);
}

/*
 * Epsilon of T steps of the sampled Gaussian mechanism at delta: the best
 * order on a grid (alpha - 1 from 1/64 to 10^4, 24 points per factor of ten),
 * refined by golden-section search between the grid neighbours.
 */
double
synth_dpsgd_epsilon(double q, double sigma, int64 steps, double delta, double *best_alpha)
{
	const double phi = (sqrt(5.0) - 1) / 2;
	double		best = INFINITY;
	int			best_k = 0;
	int			nk = 0;
	double		lo,
				hi,
				c,
				d,
				fc,
				fd;

	for (int k = 0;; k++)
	{
		double		alpha = 1.0 + pow(10.0, -1.8 + k / 24.0);
		double		eps;

		if (alpha > SYNTH_RDP_MAX_ORDER)
			break;
		eps = dpsgd_epsilon_at(q, sigma, steps, delta, alpha);
		if (eps < best)
		{
			best = eps;
			best_k = k;
		}
		nk = k + 1;
	}
	/* golden section on log10(alpha - 1) between the neighbours of the best */
	lo = -1.8 + Max(best_k - 1, 0) / 24.0;
	hi = -1.8 + Min(best_k + 1, nk - 1) / 24.0;
	c = hi - phi * (hi - lo);
	d = lo + phi * (hi - lo);
	fc = dpsgd_epsilon_at(q, sigma, steps, delta, 1.0 + pow(10.0, c));
	fd = dpsgd_epsilon_at(q, sigma, steps, delta, 1.0 + pow(10.0, d));
	for (int i = 0; i < 40; i++)
	{
		if (fc < fd)
		{
			hi = d;
			d = c;
			fd = fc;
			c = hi - phi * (hi - lo);
			fc = dpsgd_epsilon_at(q, sigma, steps, delta, 1.0 + pow(10.0, c));
		}
		else
		{
			lo = c;
			c = d;
			fc = fd;
			d = lo + phi * (hi - lo);
			fd = dpsgd_epsilon_at(q, sigma, steps, delta, 1.0 + pow(10.0, d));
		}
	}
	if (Min(fc, fd) < best)
	{
		best = Min(fc, fd);
		best_k = -1;
		if (best_alpha)
			*best_alpha = 1.0 + pow(10.0, fc < fd ? c : d);
	}
	else if (best_alpha)
		*best_alpha = 1.0 + pow(10.0, -1.8 + best_k / 24.0);
	return best;
}

/*
 * The smallest noise multiplier sigma (to 1e-6 relative) whose T steps at
 * sampling rate q stay within (epsilon, delta): bisection on log(sigma);
 * the answer errs upwards.  Infinity when no sigma up to 10^4 is enough.
 */
double
synth_dpsgd_calibrate(double q, int64 steps, double epsilon, double delta)
{
	double		lo = log(0.05),
				hi = log(1.0e4);

	if (synth_dpsgd_epsilon(q, exp(hi), steps, delta, NULL) > epsilon)
		return INFINITY;
	if (synth_dpsgd_epsilon(q, exp(lo), steps, delta, NULL) <= epsilon)
		return exp(lo);
	while (hi - lo > 1e-6)
	{
		double		mid = (lo + hi) / 2;

		if (synth_dpsgd_epsilon(q, exp(mid), steps, delta, NULL) <= epsilon)
			hi = mid;
		else
			lo = mid;
	}
	return exp(hi);
}

/*
 * delta such that rho-zCDP implies (epsilon, delta)-DP (CKS 2020,
 * Corollary 13): the infimum over alpha > 1 of
 * exp((alpha - 1)(alpha rho - epsilon)) / (alpha - 1) (1 - 1/alpha)^alpha,
 * at the alpha where its log-derivative (2 alpha - 1) rho - epsilon +
 * log(1 - 1/alpha) vanishes, found by bisection.  Any alpha gives a valid
 * bound, so an imprecise search only makes delta larger.
 */
double
synth_zcdp_delta(double rho, double epsilon)
{
	double		amin = 1.0 + 1e-9,
				amax = (epsilon + 1) / (2 * rho) + 2,
				alpha = amin,
				log_delta;

	if (rho <= 0.0)
		return 0.0;
	for (int i = 0; i < 200; i++)
	{
		alpha = (amin + amax) / 2;
		if ((2 * alpha - 1) * rho - epsilon + log1p(-1.0 / alpha) < 0)
			amin = alpha;
		else
			amax = alpha;
	}
	log_delta = (alpha - 1) * (alpha * rho - epsilon) + alpha * log1p(-1.0 / alpha) - log(alpha - 1);
	return Min(exp(log_delta), 1.0);
}

/* The smallest epsilon (erring upwards) with rho-zCDP => (epsilon, delta)-DP. */
double
synth_zcdp_epsilon(double rho, double delta)
{
	double		lo = 0.0,
				hi;

	if (rho <= 0.0 || delta >= 1.0)
		return 0.0;
	hi = rho + 2 * sqrt(rho * log(1 / delta));	/* the standard bound holds here */
	for (int i = 0; i < 200; i++)
	{
		double		mid = (lo + hi) / 2;

		if (synth_zcdp_delta(rho, mid) <= delta)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* The largest rho (erring downwards) with rho-zCDP => (epsilon, delta)-DP. */
double
synth_zcdp_rho(double epsilon, double delta)
{
	double		lo = 0.0,
				hi = epsilon + 1;

	if (delta >= 1.0)
		return INFINITY;
	for (int i = 0; i < 200; i++)
	{
		double		mid = (lo + hi) / 2;

		if (synth_zcdp_delta(mid, epsilon) <= delta)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* rho of a (discrete) Gaussian of variance sigma2 on a query of L2 sensitivity D. */
double
synth_gaussian_rho(double sensitivity, double sigma2)
{
	return sensitivity * sensitivity / (2 * sigma2);
}

/* rho of the exponential mechanism with parameter epsilon (bounded range). */
double
synth_exponential_rho(double epsilon)
{
	return epsilon * epsilon / 8;
}

/*
 * The order alpha > 1 at which rho-zCDP (Renyi DP rho alpha at every order)
 * converts to the smallest epsilon at delta (Balle et al.'s conversion, the
 * same bound as CKS 2020, Corollary 13): a grid as synth_dpsgd_epsilon's,
 * refined by golden-section search.  Any order gives a valid conversion;
 * this one gives the best.
 */
double
synth_zcdp_best_order(double rho, double delta)
{
	const double phi = (sqrt(5.0) - 1) / 2;
	double		best = INFINITY;
	int			best_k = 0;
	int			nk = 0;
	double		lo,
				hi,
				c,
				d,
				fc,
				fd;

	for (int k = 0;; k++)
	{
		double		alpha = 1.0 + pow(10.0, -1.8 + k / 24.0);
		double		eps;

		if (alpha > SYNTH_RDP_MAX_ORDER)
			break;
		eps = synth_rdp_to_epsilon(alpha, rho * alpha, delta);
		if (eps < best)
		{
			best = eps;
			best_k = k;
		}
		nk = k + 1;
	}
	lo = -1.8 + Max(best_k - 1, 0) / 24.0;
	hi = -1.8 + Min(best_k + 1, nk - 1) / 24.0;
	c = hi - phi * (hi - lo);
	d = lo + phi * (hi - lo);
	fc = synth_rdp_to_epsilon(1.0 + pow(10.0, c), rho * (1.0 + pow(10.0, c)), delta);
	fd = synth_rdp_to_epsilon(1.0 + pow(10.0, d), rho * (1.0 + pow(10.0, d)), delta);
	for (int i = 0; i < 40; i++)
	{
		if (fc < fd)
		{
			hi = d;
			d = c;
			fd = fc;
			c = hi - phi * (hi - lo);
			fc = synth_rdp_to_epsilon(1.0 + pow(10.0, c), rho * (1.0 + pow(10.0, c)), delta);
		}
		else
		{
			lo = c;
			c = d;
			fc = fd;
			d = lo + phi * (hi - lo);
			fd = synth_rdp_to_epsilon(1.0 + pow(10.0, d), rho * (1.0 + pow(10.0, d)), delta);
		}
	}
	if (Min(fc, fd) < best)
		return 1.0 + pow(10.0, fc < fd ? c : d);
	return 1.0 + pow(10.0, -1.8 + best_k / 24.0);
}

/*
 * The smallest noise multiplier sigma (to 1e-6 relative, erring upwards)
 * whose T steps at sampling rate q have Renyi DP of order alpha at most
 * rdp_budget.  Infinity when no sigma up to 10^4 is enough.  DP-SGD after
 * a data-dependent choice of q and T is accounted at one fixed order this
 * way (src/dpsgd.c).
 */
double
synth_dpsgd_calibrate_at(double q, int64 steps, double alpha, double rdp_budget)
{
	double		lo = log(0.05),
				hi = log(1.0e4);

	if (steps * synth_rdp_sampled_gaussian(q, exp(hi), alpha) > rdp_budget)
		return INFINITY;
	if (steps * synth_rdp_sampled_gaussian(q, exp(lo), alpha) <= rdp_budget)
		return exp(lo);
	while (hi - lo > 1e-6)
	{
		double		mid = (lo + hi) / 2;

		if (steps * synth_rdp_sampled_gaussian(q, exp(mid), alpha) <= rdp_budget)
			hi = mid;
		else
			lo = mid;
	}
	return exp(hi);
}

/*
 * Amplification by Poisson subsampling at rate p (Balle, Barthe, Gaboardi
 * 2018, Theorem 8): the epsilon, with respect to the table, of a mechanism
 * that is epsilon_inner-DP with respect to its sample.
 */
double
synth_subsample_epsilon(double epsilon_inner, double p)
{
	return log1p(p * expm1(epsilon_inner));
}

/*
 * Its inverse: the (epsilon_inner, delta_inner) a mechanism run on a Poisson
 * sample at rate p may have for the whole to be (epsilon, delta)-DP with
 * respect to the table.  Both are shaved by a relative 1e-12 so that the
 * rounding of log1p/expm1 cannot put the amplified pair above (epsilon,
 * delta).  delta_inner may reach 1 or more: the caller refuses that.
 */
void
synth_subsample_inner(double epsilon, double delta, double p,
					  double *epsilon_inner, double *delta_inner)
{
	*epsilon_inner = log1p(expm1(epsilon) / p) * (1.0 - 1e-12);
	*delta_inner = delta / p * (1.0 - 1e-12);
}
