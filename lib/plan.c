/* `--plan`: what a session would do on this kernel, without doing it. Each
 * probe gets one line on stdout, "PROBE<TAB>METHOD<TAB>DETAIL", where METHOD
 * is the attach method chosen (DETAIL: its target), "-" when none fits
 * (DETAIL: "skipped (optional): why" or "unavailable: why"), or "+own" for
 * what the tool sets up itself (perf events, uprobes, buffers). `sonde doctor`
 * reads these lines; nothing is loaded or attached. */
#include <stdio.h>

#include <bpf/libbpf.h>

#include "sonde/features.h"
#include "sonde/log.h"
#include "sonde/session.h"

static bool kernel_check(const struct sonde_probe_alt *alt, char *why, size_t size, void *ctx)
{
	(void)ctx;
	return sonde_alt_supported(alt, why, size);
}

/* What every session needs whatever it attaches: CO-RE relocations need
 * the kernel's BTF, and an "events" ring buffer needs ring buffer maps. */
static bool prerequisites_met(const struct sonde_session_config *cfg)
{
	const struct bpf_map *map;
	bool ok = true;

	if (!sonde_feature_has(SONDE_FEAT_BTF)) {
		printf("kernel BTF\t-\tunavailable: %s\n", sonde_feature_reason(SONDE_FEAT_BTF));
		ok = false;
	}
	bpf_object__for_each_map(map, cfg->obj) {
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF && !sonde_feature_has(SONDE_FEAT_RINGBUF)) {
			printf("BPF ring buffer\t-\tunavailable: %s\n", sonde_feature_reason(SONDE_FEAT_RINGBUF));
			ok = false;
			break;
		}
	}
	return ok;
}

int sonde_session_plan(const struct sonde_session_config *cfg)
{
	enum sonde_attach_kind forced = cfg->args->attach;
	bool forced_used = false, previous_chosen = false;
	int rc = prerequisites_met(cfg) ? SONDE_EXIT_OK : SONDE_EXIT_UNSUPPORTED;

	for (size_t p = 0; p < cfg->n_probes; p++) {
		const struct sonde_probe *probe = &cfg->probes[p];
		bool has_forced = forced && sonde_probe_has_kind(probe, forced);
		char reasons[768] = "";
		int a;

		if (probe->covers_previous && !previous_chosen) {
			printf("%s\t-\tskipped (optional): what it covers is not attached\n", probe->name);
			continue;
		}
		a = sonde_choose_alt(probe, forced, kernel_check, NULL, reasons, sizeof(reasons));
		previous_chosen = a >= 0;
		if (a >= 0) {
			forced_used |= has_forced;
			printf("%s\t%s\t%s\n", probe->name, sonde_attach_kind_name(probe->alts[a].kind),
			       probe->alts[a].target);
		} else if (probe->optional && !has_forced) {
			printf("%s\t-\tskipped (optional): %s\n", probe->name, reasons);
		} else {
			printf("%s\t-\tunavailable: %s\n", probe->name, reasons);
			rc = SONDE_EXIT_UNSUPPORTED;
		}
	}
	if (forced && !forced_used) {
		printf("--attach\t-\tunavailable: this tool has no %s probes\n", sonde_attach_kind_name(forced));
		rc = SONDE_EXIT_UNSUPPORTED;
	}
	/* What attach_extra does is the tool's own business: say it exists. */
	if (cfg->attach_extra)
		printf("tool-specific setup\t+own\tdone by the tool when it runs (e.g. perf events, uprobes)\n");
	fflush(stdout);
	return rc;
}
