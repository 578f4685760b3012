/*-------------------------------------------------------------------------
 *
 * privacy_stream.c
 *	  The secret random stream of DP-SGD: ChaCha20 (RFC 8439) keyed from
 *	  pg_strong_random, for the Poisson sampling of batches and the
 *	  Gaussian noise of the gradients.
 *
 * DP-SGD draws hundreds of millions of values per training (a Bernoulli per
 * row per step, a Gaussian per parameter per step), more than the exact
 * samplers of privacy.c could make in time.  The stream is a cryptographic
 * generator: a 256-bit key and a 96-bit nonce from pg_strong_random, never
 * stored, never the model's seed; its output cannot be told from uniform
 * bits without the key (the standard assumption on ChaCha20, as the kernel's
 * getrandom() itself rests on).  So neither the batches nor the noise can be
 * predicted from anything the model stores.
 *
 * Bernoulli(q) is exact for the rate it reports: a 64-bit word below
 * ceil(q 2^64), so the rate is that threshold over 2^64, which the
 * accountant is given (rounded up).
 *
 * Gaussian noise is floating point, and the accountant's analysis is for
 * the real-valued Gaussian.  Textbook floating-point samplers leak through
 * the set of values they can output (Mironov 2012 for Laplace; Jin et al.
 * 2022 and Holohan and Braghin 2021 for Gaussians).  The mitigation here is
 * Opacus' secure mode: each value is the sum of four Box-Muller normals
 * from 53-bit uniforms, in double, divided by two (the same variance), then
 * scaled and rounded to the network's float; the sum spreads the support
 * so that no output value is impossible under one neighbour and possible
 * under the other, as an attack on a single draw needs.  This is a
 * mitigation, not a proof: doc/privacy.md says what is assumed.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "privacy.h"

#include <math.h>

#define ROTL32(v, n)	(((v) << (n)) | ((v) >> (32 - (n))))
#define QUARTER(a, b, c, d) \
	do { \
		a += b; d ^= a; d = ROTL32(d, 16); \
		c += d; b ^= c; b = ROTL32(b, 12); \
		a += b; d ^= a; d = ROTL32(d, 8); \
		c += d; b ^= c; b = ROTL32(b, 7); \
	} while (0)

/* The ChaCha20 block function (RFC 8439, 2.3): 16 words of output. */
void
synth_chacha20_block(const uint32 key[8], uint32 counter, const uint32 nonce[3], uint32 out[16])
{
	uint32		x[16];
	uint32		s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574,
		key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
	counter, nonce[0], nonce[1], nonce[2]};

	memcpy(x, s, sizeof(x));
	for (int i = 0; i < 10; i++)
	{
		QUARTER(x[0], x[4], x[8], x[12]);
		QUARTER(x[1], x[5], x[9], x[13]);
		QUARTER(x[2], x[6], x[10], x[14]);
		QUARTER(x[3], x[7], x[11], x[15]);
		QUARTER(x[0], x[5], x[10], x[15]);
		QUARTER(x[1], x[6], x[11], x[12]);
		QUARTER(x[2], x[7], x[8], x[13]);
		QUARTER(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		out[i] = x[i] + s[i];
}

static uint32
le32(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

/* A new key and nonce from the secure generator. */
static void
stream_rekey(SynthSecureStream *s)
{
	uint8		seed[44];

	if (!pg_strong_random(seed, sizeof(seed)))
		elog(ERROR, "synth: could not read secure random bytes for DP-SGD");
	for (int i = 0; i < 8; i++)
		s->key[i] = le32(seed + 4 * i);
	for (int i = 0; i < 3; i++)
		s->nonce[i] = le32(seed + 32 + 4 * i);
	s->counter = 0;
	memset(seed, 0, sizeof(seed));
}

void
synth_secure_init(SynthSecureStream *s)
{
	stream_rekey(s);
	s->pos = SYNTH_SECURE_WORDS;
	s->words_used = 0;
}

/* The next 64 bits of the stream. */
uint64
synth_secure_uint64(SynthSecureStream *s)
{
	uint64		v;

	if (s->pos >= SYNTH_SECURE_WORDS)
	{
		for (int b = 0; b < SYNTH_SECURE_WORDS / 16; b++)
		{
			synth_chacha20_block(s->key, s->counter, s->nonce, s->words + 16 * b);
			if (++s->counter == 0)
				stream_rekey(s);	/* 2^32 blocks: a fresh key */
		}
		s->pos = 0;
	}
	v = (uint64) s->words[s->pos] | ((uint64) s->words[s->pos + 1] << 32);
	s->pos += 2;
	s->words_used += 2;
	return v;
}

/* A uniform double in (0, 1) from 53 bits. */
double
synth_secure_uniform(SynthSecureStream *s)
{
	return ((double) (synth_secure_uint64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/*
 * The threshold of Bernoulli(q) for synth_secure_bernoulli: ceil(q 2^64),
 * capped at 2^64 - 1.  *rate receives the exact rate it draws at, rounded
 * up to a double: what the accountant must be given.
 */
uint64
synth_secure_bernoulli_threshold(double q, double *rate)
{
	long double t = ceill((long double) q * 18446744073709551616.0L);
	uint64		threshold = t >= 18446744073709551615.0L ? PG_UINT64_MAX : (uint64) t;

	*rate = nextafter((double) ((long double) threshold / 18446744073709551616.0L), 2.0);
	if (*rate > 1.0)
		*rate = 1.0;
	return threshold;
}

bool
synth_secure_bernoulli(SynthSecureStream *s, uint64 threshold)
{
	return synth_secure_uint64(s) < threshold;
}

/*
 * n Gaussian values of standard deviation std into out: each the sum of
 * four standard normals (two Box-Muller pairs), halved, times std.
 */
void
synth_secure_gaussian(SynthSecureStream *s, size_t n, double std, float *out)
{
	for (size_t i = 0; i < n; i++)
	{
		double		sum = 0.0;

		for (int pair = 0; pair < 2; pair++)
		{
			double		r = sqrt(-2.0 * log(synth_secure_uniform(s)));
			double		theta = 2.0 * M_PI * synth_secure_uniform(s);

			sum += r * cos(theta) + r * sin(theta);
		}
		out[i] = (float) (std * sum / 2.0);
	}
}
