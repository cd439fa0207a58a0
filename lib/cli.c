#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sonde/cli.h"
#include "sonde/duration.h"
#include "sonde/log.h"
#include "sonde/session.h"

enum {
	OPT_ATTACH = 0x8000,
	OPT_STRICT,
	OPT_LIST_OPTIONS = 0x10000,
	OPT_SUMMARY,	/* hidden: the one-line summary, for `sonde list` */
	OPT_PLAN,	/* hidden: report attach methods only, for `sonde doctor` */
};

static const struct sonde_option common_options[] = {
	{"pid", 'p', "PID[,PID...]", "only these processes"},
	{"cgroup", 'c', "PATH", "only tasks in this cgroup (v2 or v1 path) or below it"},
	{"container", 'C', "ID", "only tasks of the container whose ID starts with ID"},
	{"duration", 'd', "DUR", "stop after DUR (10, 10s, 500ms, 2m); a trailing DURATION does the same"},
	{"interval", 'i', "DUR", "print a summary every DUR"},
	{"output", 'o', "FMT", "output format"},
	{"attach", OPT_ATTACH, "METHOD", "attach with METHOD only (fentry, kprobe, tp_btf, raw_tp, tracepoint) where the tool has it; exit 4 if this kernel lacks it"},
	{"strict", OPT_STRICT, NULL, "exit with status 1 if any event was lost"},
	{"verbose", 'v', NULL, "say what was probed, chosen, attached and lost (-vv: more)"},
	{"help", 'h', NULL, "show this help"},
	{"version", 'V', NULL, "show the version"},
	{0},
};

static const struct {
	enum sonde_format fmt;
	const char *name;
} format_names[] = {
	{SONDE_FMT_TABLE, "table"},
	{SONDE_FMT_JSON, "json"},
	{SONDE_FMT_FOLDED, "folded"},
	{SONDE_FMT_PPROF, "pprof"},
};

const char *sonde_format_name(enum sonde_format f)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (format_names[i].fmt == f)
			return format_names[i].name;
	return "?";
}

static bool common_applies(const struct sonde_tool *tool, int key)
{
	return key != 'i' || tool->has_interval;
}

static void print_option(FILE *out, const struct sonde_option *o)
{
	char left[64];
	int n = 0;

	if (o->key < SONDE_OPT_LONG)
		n = snprintf(left, sizeof(left), "-%c, ", o->key);
	else
		n = snprintf(left, sizeof(left), "    ");
	snprintf(left + n, sizeof(left) - n, "--%s%s%s", o->name, o->arg ? " " : "",
		 o->arg ? o->arg : "");
	fprintf(out, "  %-28s %s\n", left, o->help);
}

static void print_help(const struct sonde_tool *tool, FILE *out)
{
	fprintf(out, "Usage: sonde-%s [OPTIONS] [DURATION]\n%s\n", tool->name, tool->summary);
	if (tool->description)
		fprintf(out, "\n%s\n", tool->description);
	if (tool->options && tool->options[0].name) {
		fprintf(out, "\nOptions:\n");
		for (const struct sonde_option *o = tool->options; o->name; o++)
			print_option(out, o);
	}
	fprintf(out, "\nCommon options:\n");
	for (const struct sonde_option *o = common_options; o->name; o++) {
		if (!common_applies(tool, o->key))
			continue;
		print_option(out, o);
		if (o->key == 'o') {
			fprintf(out, "  %-28s  ", "");
			for (size_t i = 0, first = 1; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
				if (!(tool->formats & format_names[i].fmt))
					continue;
				fprintf(out, "%s%s%s", first ? "one of: " : ", ", format_names[i].name,
					format_names[i].fmt == SONDE_FMT_TABLE ? " (default)" : "");
				first = 0;
			}
			fprintf(out, "\n");
		}
	}
	if (tool->examples)
		fprintf(out, "\nExamples:\n%s", tool->examples);
	fprintf(out, "\nExit status: 0 success, 1 runtime error, 2 usage error, "
		     "3 missing privileges, 4 unsupported on this kernel or target.\n");
}

/* The values an option's argument can take, space-separated, when they
 * are a fixed set (output formats, attach methods); "" otherwise. */
static void option_choices(const struct sonde_tool *tool, int key, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	if (key == 'o') {
		for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
			if (tool->formats & format_names[i].fmt && len < size)
				len += snprintf(buf + len, size - len, "%s%s", len ? " " : "",
						format_names[i].name);
	} else if (key == OPT_ATTACH) {
		for (int k = SONDE_ATTACH_FENTRY; k <= SONDE_ATTACH_TRACEPOINT && len < size; k++)
			len += snprintf(buf + len, size - len, "%s%s", len ? " " : "",
					sonde_attach_kind_name(k));
	}
}

/* For shell completion: every option a tool takes, one per line:
 * "OPTION<TAB>ARG<TAB>HELP", plus "<TAB>CHOICES" when the argument is one
 * of a fixed set of words. */
static void print_option_list(const struct sonde_tool *tool)
{
	const struct sonde_option *lists[] = {tool->options, common_options};
	char choices[128];

	for (size_t l = 0; l < 2; l++) {
		for (const struct sonde_option *o = lists[l]; o && o->name; o++) {
			if (l == 1 && !common_applies(tool, o->key))
				continue;
			option_choices(tool, l == 1 ? o->key : 0, choices, sizeof(choices));
			if (o->key < SONDE_OPT_LONG)
				printf("-%c\t%s\t%s%s%s\n", o->key, o->arg ? o->arg : "", o->help,
				       choices[0] ? "\t" : "", choices);
			printf("--%s\t%s\t%s%s%s\n", o->name, o->arg ? o->arg : "", o->help,
			       choices[0] ? "\t" : "", choices);
		}
	}
}

int sonde_parse_pids(const char *text, pid_t **pids, size_t *n)
{
	const char *p = text;

	do {
		char tok[16], path[32];
		size_t len = strcspn(p, ",");
		uint64_t v;
		pid_t *grown;

		if (len == 0 || len >= sizeof(tok)) {
			sonde_err("invalid PID list '%s'", text);
			return SONDE_EXIT_USAGE;
		}
		memcpy(tok, p, len);
		tok[len] = 0;
		if (sonde_parse_u64(tok, 1, 4194304, &v)) {
			sonde_err("invalid PID '%s'", tok);
			return SONDE_EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/proc/%llu", (unsigned long long)v);
		if (access(path, F_OK)) {
			sonde_err("no process with PID %llu", (unsigned long long)v);
			return SONDE_EXIT_USAGE;
		}
		grown = realloc(*pids, (*n + 1) * sizeof(**pids));
		if (!grown)
			return SONDE_EXIT_RUNTIME;
		*pids = grown;
		(*pids)[(*n)++] = (pid_t)v;
		p += len;
	} while (*p++ == ',');
	return 0;
}

int sonde_parse_ports(const char *text, uint16_t *ports, size_t max, size_t *n)
{
	const char *p = text;

	*n = 0;
	while (*p) {
		char tok[16];
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (len == 0 || len >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, p, len);
		tok[len] = 0;
		if (sonde_parse_u64(tok, 1, 65535, &v) || *n >= max)
			return -EINVAL;
		ports[(*n)++] = (uint16_t)v;
		p += len;
		if (*p == ',' && !*++p)
			return -EINVAL;
	}
	return *n ? 0 : -EINVAL;
}

static int parse_format(const struct sonde_tool *tool, const char *arg, struct sonde_args *args)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(arg, format_names[i].name))
			continue;
		if (!(tool->formats & format_names[i].fmt))
			break;
		args->format = format_names[i].fmt;
		return 0;
	}
	sonde_err("output format '%s' is not one this tool writes (see --help)", arg);
	return SONDE_EXIT_USAGE;
}

static int parse_common(const struct sonde_tool *tool, int key, const char *arg,
			struct sonde_args *args)
{
	switch (key) {
	case 'p':
		return sonde_parse_pids(arg, &args->pids, &args->n_pids);
	case 'c':
		args->cgroup = arg;
		return 0;
	case 'C':
		if (!*arg || strspn(arg, "0123456789abcdef") != strlen(arg)) {
			sonde_err("container ID '%s' is not a hex ID prefix", arg);
			return SONDE_EXIT_USAGE;
		}
		args->container = arg;
		return 0;
	case 'd':
		if (sonde_parse_duration(arg, &args->duration_ns) || !args->duration_ns) {
			sonde_err("invalid duration '%s' (try 10, 10s, 500ms, 2m)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case 'i':
		if (sonde_parse_duration(arg, &args->interval_ns) || args->interval_ns < 1000000) {
			sonde_err("invalid interval '%s' (try 1, 5s, 500ms; at least 1ms)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case 'o':
		return parse_format(tool, arg, args);
	case OPT_ATTACH:
		args->attach = sonde_attach_kind_parse(arg);
		if (args->attach == SONDE_ATTACH_NONE) {
			sonde_err("unknown attach method '%s' (fentry, fexit, kprobe, kretprobe, tp_btf, raw_tp, tracepoint)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case OPT_STRICT:
		args->strict = true;
		return 0;
	case 'v':
		args->verbose++;
		sonde_set_verbosity(args->verbose);
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

static int build_getopt(const struct sonde_tool *tool, struct option **longopts, char **shortopts)
{
	const struct sonde_option *lists[] = {tool->options, common_options};
	size_t n = 3, k = 0, s = 0;	/* 3: the hidden options */

	for (size_t l = 0; l < 2; l++)
		for (const struct sonde_option *o = lists[l]; o && o->name; o++)
			n++;
	*longopts = calloc(n + 1, sizeof(**longopts));
	*shortopts = calloc(2 * n + 2, 1);
	if (!*longopts || !*shortopts)
		return -ENOMEM;
	(*shortopts)[s++] = ':';
	for (size_t l = 0; l < 2; l++) {
		for (const struct sonde_option *o = lists[l]; o && o->name; o++) {
			if (l == 1 && !common_applies(tool, o->key))
				continue;
			(*longopts)[k++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->key};
			if (o->key < SONDE_OPT_LONG) {
				(*shortopts)[s++] = (char)o->key;
				if (o->arg)
					(*shortopts)[s++] = ':';
			}
		}
	}
	(*longopts)[k++] = (struct option){"list-options", no_argument, NULL, OPT_LIST_OPTIONS};
	(*longopts)[k++] = (struct option){"summary", no_argument, NULL, OPT_SUMMARY};
	(*longopts)[k++] = (struct option){"plan", no_argument, NULL, OPT_PLAN};
	return 0;
}

static bool is_common(const struct sonde_tool *tool, int key)
{
	for (const struct sonde_option *o = common_options; o->name; o++)
		if (o->key == key)
			return common_applies(tool, key);
	return false;
}

int sonde_cli_parse(const struct sonde_tool *tool, int argc, char **argv,
		    struct sonde_args *args)
{
	struct option *longopts = NULL;
	char *shortopts = NULL;
	int rc = SONDE_CLI_CONTINUE, c;

	memset(args, 0, sizeof(*args));
	args->format = SONDE_FMT_TABLE;
	sonde_log_init(argv[0]);
	if (build_getopt(tool, &longopts, &shortopts)) {
		sonde_err("out of memory");
		return SONDE_EXIT_RUNTIME;
	}
	opterr = 0;
	optind = 1;
	while (rc == SONDE_CLI_CONTINUE &&
	       (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int err = 0;

		if (c == 'h') {
			print_help(tool, stdout);
			rc = SONDE_EXIT_OK;
		} else if (c == 'V') {
			printf("sonde-%s %s\n", tool->name, SONDE_VERSION);
			rc = SONDE_EXIT_OK;
		} else if (c == OPT_LIST_OPTIONS) {
			print_option_list(tool);
			rc = SONDE_EXIT_OK;
		} else if (c == OPT_SUMMARY) {
			printf("%s\n", tool->summary);
			rc = SONDE_EXIT_OK;
		} else if (c == OPT_PLAN) {
			args->plan = true;
		} else if (c == '?') {
			if (optopt && optopt < SONDE_OPT_LONG)
				sonde_err("unknown option '-%c' (see --help)", optopt);
			else
				sonde_err("unknown option '%s' (see --help)", argv[optind - 1]);
			rc = SONDE_EXIT_USAGE;
		} else if (c == ':') {
			sonde_err("option '%s' needs a value (see --help)", argv[optind - 1]);
			rc = SONDE_EXIT_USAGE;
		} else if (is_common(tool, c)) {
			err = parse_common(tool, c, optarg, args);
		} else if (tool->parse) {
			err = tool->parse(c, optarg, tool->ctx);
		}
		if (err)
			rc = err;
	}
	if (rc == SONDE_CLI_CONTINUE && optind < argc) {
		if (argc - optind > 1) {
			sonde_err("unexpected argument '%s' (see --help)", argv[optind + 1]);
			rc = SONDE_EXIT_USAGE;
		} else if (sonde_parse_duration(argv[optind], &args->duration_ns) || !args->duration_ns) {
			sonde_err("invalid duration '%s' (try 10, 10s, 500ms, 2m)", argv[optind]);
			rc = SONDE_EXIT_USAGE;
		}
	}
	if (rc == SONDE_CLI_CONTINUE && args->format == SONDE_FMT_PPROF) {
		/* One gzip'd profile, written when the tool ends. */
		if (args->interval_ns) {
			sonde_err("-o pprof writes one profile at the end; it cannot be combined with -i");
			rc = SONDE_EXIT_USAGE;
		} else if (isatty(STDOUT_FILENO)) {
			sonde_err("-o pprof is binary: redirect it to a file (-o pprof > profile.pb.gz)");
			rc = SONDE_EXIT_USAGE;
		}
	}
	if (rc == SONDE_CLI_CONTINUE && args->cgroup && args->container) {
		sonde_err("-c and -C cannot be combined");
		rc = SONDE_EXIT_USAGE;
	}
	free(longopts);
	free(shortopts);
	if (rc != SONDE_CLI_CONTINUE)
		sonde_args_free(args);
	return rc;
}

void sonde_args_free(struct sonde_args *args)
{
	free(args->pids);
	args->pids = NULL;
	args->n_pids = 0;
}
