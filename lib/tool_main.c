#include "sonde/tool_main.h"

int sonde_tool_main(const struct sonde_tool_main *m, int argc, char **argv)
{
	struct sonde_session_config cfg = {0};
	int rc = sonde_cli_parse(m->tool, argc, argv, m->args);

	/* --help, --version, a usage error: nothing was set up. */
	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	rc = m->setup(m->tool->ctx, &cfg);
	cfg.args = m->args;
	if (!rc)
		rc = sonde_session_run(&cfg);
	if (m->teardown)
		m->teardown(m->tool->ctx);
	sonde_args_free(m->args);
	return rc;
}
