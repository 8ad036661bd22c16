/*
 * sha256.c - SHA-256 over a stream of chunks: a portable block function
 * and, on x86-64, one using the SHA extensions (SHA-NI), picked at run time
 * by store_sha256_init() with __builtin_cpu_supports("sha").
 *
 * Both block functions take the eight state words and a run of whole
 * 64-byte blocks; update() buffers partial blocks so callers may pass any
 * chunk sizes. The SHA-NI version follows the well-known instruction
 * sequence from Intel's SHA extensions paper: the state lives in two
 * registers as ABEF and CDGH, each sha256rnds2 does two rounds, and
 * sha256msg1/msg2 extend the message schedule four words at a time.
 */
#include "store/sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_HAVE_SHANI 1
#else
#define SHA256_HAVE_SHANI 0
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ---- portable ---- */

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void schedule(uint32_t w[64], const unsigned char *p)
{
	for (int i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
}

static void blocks_portable(uint32_t state[8], const unsigned char *p, size_t nblocks)
{
	uint32_t w[64], v[8];

	for (; nblocks > 0; nblocks--, p += 64) {
		schedule(w, p);
		memcpy(v, state, sizeof(v));
		for (int i = 0; i < 64; i++) {
			uint32_t s1 = ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25);
			uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
			uint32_t t1 = v[7] + s1 + ch + K[i] + w[i];
			uint32_t s0 = ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22);
			uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);

			memmove(v + 1, v, 7 * sizeof(v[0]));
			v[4] += t1;
			v[0] = t1 + s0 + maj;
		}
		for (int i = 0; i < 8; i++)
			state[i] += v[i];
	}
}

/* ---- SHA-NI ---- */

#if SHA256_HAVE_SHANI
/*
 * Four rounds per step i (0..15) on message words W[i % 4]; steps 3..14
 * finish the schedule word four steps ahead, steps 1..12 start the one
 * three steps ahead. Unrolled fully so W stays in registers.
 */
#define SHANI_STEP(i)                                                                          \
	do {                                                                                   \
		__m128i m_ = _mm_add_epi32(W[(i) % 4],                                         \
					   _mm_loadu_si128((const __m128i *)&K[4 * (i)]));     \
		s1 = _mm_sha256rnds2_epu32(s1, s0, m_);                                        \
		if ((i) >= 3 && (i) <= 14) {                                                   \
			__m128i t_ = _mm_alignr_epi8(W[(i) % 4], W[((i) + 3) % 4], 4);         \
			W[((i) + 1) % 4] = _mm_add_epi32(W[((i) + 1) % 4], t_);                \
			W[((i) + 1) % 4] = _mm_sha256msg2_epu32(W[((i) + 1) % 4], W[(i) % 4]); \
		}                                                                              \
		m_ = _mm_shuffle_epi32(m_, 0x0e);                                              \
		s0 = _mm_sha256rnds2_epu32(s0, s1, m_);                                        \
		if ((i) >= 1 && (i) <= 12)                                                     \
			W[((i) + 3) % 4] = _mm_sha256msg1_epu32(W[((i) + 3) % 4], W[(i) % 4]); \
	} while (0)

__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t state[8],
							       const unsigned char *p,
							       size_t nblocks)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
	__m128i s0, save0, save1, W[4];

	tmp = _mm_shuffle_epi32(tmp, 0xb1);  /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);    /* EFGH */
	s0 = _mm_alignr_epi8(tmp, s1, 8);    /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xf0); /* CDGH */
	for (; nblocks > 0; nblocks--, p += 64) {
		save0 = s0;
		save1 = s1;
		for (int i = 0; i < 4; i++)
			W[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)),
						mask);
		SHANI_STEP(0);
		SHANI_STEP(1);
		SHANI_STEP(2);
		SHANI_STEP(3);
		SHANI_STEP(4);
		SHANI_STEP(5);
		SHANI_STEP(6);
		SHANI_STEP(7);
		SHANI_STEP(8);
		SHANI_STEP(9);
		SHANI_STEP(10);
		SHANI_STEP(11);
		SHANI_STEP(12);
		SHANI_STEP(13);
		SHANI_STEP(14);
		SHANI_STEP(15);
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	tmp = _mm_shuffle_epi32(s0, 0x1b);   /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);    /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xf0); /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);    /* ABEF */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}

/*
 * GCC answers from __builtin_cpu_supports(); clang's builtin does not know
 * "sha", so there the CPUID bits are read directly (leaf 7 EBX bit 29: SHA,
 * leaf 1 ECX bit 19: SSE4.1).
 */
static bool cpu_has_shani(void)
{
#if defined(__clang__)
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return false;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19));
#else
	__builtin_cpu_init();
	return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#endif
}
#else
static bool cpu_has_shani(void)
{
	return false;
}
#endif

static void run_blocks(struct store_sha256 *s, const unsigned char *p, size_t nblocks)
{
#if SHA256_HAVE_SHANI
	if (s->impl == STORE_SHA256_SHANI) {
		blocks_shani(s->state, p, nblocks);
		return;
	}
#endif
	blocks_portable(s->state, p, nblocks);
}

/* ---- the streaming API ---- */

void store_sha256_init(struct store_sha256 *s)
{
	memcpy(s->state, H0, sizeof(H0));
	s->bytes = 0;
	s->nbuf = 0;
	s->impl = cpu_has_shani() ? STORE_SHA256_SHANI : STORE_SHA256_PORTABLE;
}

bool store_sha256_use(struct store_sha256 *s, enum store_sha256_impl impl)
{
	if (impl == STORE_SHA256_SHANI && !cpu_has_shani())
		return false;
	if (impl != STORE_SHA256_SHANI && impl != STORE_SHA256_PORTABLE)
		return false;
	s->impl = impl;
	return true;
}

void store_sha256_update(struct store_sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->bytes += len;
	if (s->nbuf > 0) {
		size_t take = 64 - s->nbuf < len ? 64 - s->nbuf : len;

		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += take;
		p += take;
		len -= take;
		if (s->nbuf < 64)
			return;
		run_blocks(s, s->buf, 1);
		s->nbuf = 0;
	}
	if (len >= 64) {
		run_blocks(s, p, len / 64);
		p += len - len % 64;
		len %= 64;
	}
	if (len > 0) {
		memcpy(s->buf, p, len);
		s->nbuf = len;
	}
}

void store_sha256_final(struct store_sha256 *s, unsigned char out[STORE_SHA256_BYTES])
{
	uint64_t bits = s->bytes * 8;
	unsigned char pad[72] = { 0x80 };
	size_t padlen = (s->nbuf < 56 ? 56 : 120) - s->nbuf;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	store_sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->state[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->state[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->state[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->state[i];
	}
}

void store_sha256_hex(const unsigned char digest[STORE_SHA256_BYTES], char hex[STORE_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < STORE_SHA256_BYTES; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[2 * STORE_SHA256_BYTES] = '\0';
}

void store_sha256_final_hex(struct store_sha256 *s, char hex[STORE_SHA256_HEX])
{
	unsigned char d[STORE_SHA256_BYTES];

	store_sha256_final(s, d);
	store_sha256_hex(d, hex);
}
