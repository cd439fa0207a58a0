#include <string.h>

#include "sonde/out.h"

void sonde_table_init(struct sonde_table *t, const struct sonde_column *cols,
		      size_t n_cols, FILE *out)
{
	t->cols = cols;
	t->n_cols = n_cols;
	t->out = out;
	t->header_done = false;
}

static void print_cells(struct sonde_table *t, const char *const *cells, bool sanitize)
{
	char safe[512];

	for (size_t i = 0; i < t->n_cols; i++) {
		const struct sonde_column *c = &t->cols[i];
		const char *cell = cells[i] ? cells[i] : "-";
		bool last = i + 1 == t->n_cols;

		if (sanitize) {
			sonde_sanitize(cell, strlen(cell), safe, sizeof(safe));
			cell = safe;
		}
		if (c->left && last)
			fputs(cell, t->out);
		else if (c->left)
			fprintf(t->out, "%-*s", c->width, cell);
		else
			fprintf(t->out, "%*s", c->width, cell);
		if (!last)
			fputc(' ', t->out);
	}
	fputc('\n', t->out);
}

void sonde_table_header(struct sonde_table *t)
{
	const char *names[64];

	for (size_t i = 0; i < t->n_cols && i < 64; i++)
		names[i] = t->cols[i].name;
	print_cells(t, names, false);
	t->header_done = true;
	sonde_out_flush(t->out);
}

int sonde_table_row(struct sonde_table *t, const char *const *cells)
{
	if (sonde_out_closed())
		return -1;
	if (!t->header_done)
		sonde_table_header(t);
	print_cells(t, cells, true);
	return sonde_out_flush(t->out);
}
