/*
 * gentable.c - fitd's synthetic table generator for benchmarks.
 *
 *   gentable --rows N --cols D --task classification|regression --seed S [--out FILE]
 *
 * Writes a CSV with a header x0..x{D-1},target and N rows. Features are
 * independent standard normals printed with six decimals. The signal is
 *
 *   s = sum_j w_j x_j / sqrt(D)  +  0.5 sin(2 x0)  +  0.5 x1 x2   (terms need D >= 3)
 *
 * with weights w_j ~ N(0, 1) drawn first from the same seed. Regression
 * writes target = s + N(0, 0.5^2). Classification writes target 0 or 1,
 * drawn as Bernoulli(sigmoid(2 s)): learnable, but the classes overlap, so
 * no model can separate them. The same arguments always give the same
 * bytes (xoshiro256** seeded through splitmix64, Box-Muller normals,
 * integer formatting of the decimals).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rng {
	uint64_t s[4];
	bool have_spare;
	double spare;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(struct rng *r)
{
	uint64_t result = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl(r->s[3], 45);
	return result;
}

/* Uniform in (0, 1). */
static double uniform(struct rng *r)
{
	return ((double)(next_u64(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct rng *r)
{
	double u, v;

	if (r->have_spare) {
		r->have_spare = false;
		return r->spare;
	}
	u = uniform(r);
	v = uniform(r);
	r->spare = sqrt(-2.0 * log(u)) * sin(2.0 * M_PI * v);
	r->have_spare = true;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Appends v with six decimals to buf (no locale, no printf): e.g. -1.234567 */
static size_t put_fixed6(char *buf, double v)
{
	long long m = llround(v * 1e6);
	unsigned long long a = m < 0 ? (unsigned long long)-m : (unsigned long long)m;
	char tmp[32];
	size_t n = 0, k = 0;

	if (m < 0)
		buf[n++] = '-';
	do {
		tmp[k++] = (char)('0' + a % 10);
		a /= 10;
	} while (a > 0 || k < 7);
	while (k > 6)
		buf[n++] = tmp[--k];
	buf[n++] = '.';
	while (k > 0)
		buf[n++] = tmp[--k];
	return n;
}

struct args {
	unsigned long long rows;
	unsigned long long cols;
	unsigned long long seed;
	bool classification;
	const char *out;
};

static int parse_number(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	bool have_task = false;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--rows") == 0 && parse_number(v, &a->rows) == 0)
			continue;
		if (strcmp(k, "--cols") == 0 && parse_number(v, &a->cols) == 0 && a->cols > 0)
			continue;
		if (strcmp(k, "--seed") == 0 && parse_number(v, &a->seed) == 0)
			continue;
		if (strcmp(k, "--out") == 0) {
			a->out = v;
			continue;
		}
		if (strcmp(k, "--task") == 0 &&
		    (strcmp(v, "classification") == 0 || strcmp(v, "regression") == 0)) {
			a->classification = v[0] == 'c';
			have_task = true;
			continue;
		}
		return -1;
	}
	return argc % 2 == 1 && have_task && a->cols > 0 ? 0 : -1;
}

static void write_header(FILE *f, unsigned long long cols)
{
	for (unsigned long long j = 0; j < cols; j++)
		fprintf(f, "x%llu,", j);
	fputs("target\n", f);
}

static double signal_of(const double *x, const double *w, unsigned long long d)
{
	double s = 0;

	for (unsigned long long j = 0; j < d; j++)
		s += w[j] * x[j];
	s /= sqrt((double)d);
	if (d >= 3)
		s += 0.5 * sin(2.0 * x[0]) + 0.5 * x[1] * x[2];
	return s;
}

static int generate(const struct args *a, FILE *f)
{
	struct rng r = { { 0 }, false, 0 };
	uint64_t sm = a->seed;
	double *w = malloc(a->cols * sizeof(double)), *x = malloc(a->cols * sizeof(double));
	char *line = malloc(a->cols * 32 + 64);

	if (w == NULL || x == NULL || line == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		r.s[i] = splitmix64(&sm);
	for (unsigned long long j = 0; j < a->cols; j++)
		w[j] = normal(&r);
	write_header(f, a->cols);
	for (unsigned long long i = 0; i < a->rows; i++) {
		size_t n = 0;
		double s, target;

		for (unsigned long long j = 0; j < a->cols; j++) {
			x[j] = round(normal(&r) * 1e6) / 1e6;
			n += put_fixed6(line + n, x[j]);
			line[n++] = ',';
		}
		s = signal_of(x, w, a->cols);
		if (a->classification) {
			target = uniform(&r) < 1.0 / (1.0 + exp(-2.0 * s)) ? 1 : 0;
			line[n++] = target > 0 ? '1' : '0';
		} else {
			n += put_fixed6(line + n, s + 0.5 * normal(&r));
		}
		line[n++] = '\n';
		if (fwrite(line, 1, n, f) != n)
			return -1;
	}
	free(w);
	free(x);
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	FILE *f = stdout;
	int rc;

	if (parse_args(argc, argv, &a) != 0) {
		fprintf(stderr,
			"usage: gentable --rows N --cols D --task classification|regression "
			"--seed S [--out FILE]\n");
		return 2;
	}
	if (a.out != NULL && (f = fopen(a.out, "w")) == NULL) {
		fprintf(stderr, "gentable: %s: %s\n", a.out, strerror(errno));
		return 1;
	}
	rc = generate(&a, f);
	if (fflush(f) != 0 || ferror(f))
		rc = -1;
	if (f != stdout && fclose(f) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "gentable: write failed\n");
		return 1;
	}
	return 0;
}
