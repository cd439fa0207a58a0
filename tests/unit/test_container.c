#include <unistd.h>

#include <sonde/container.h>

#include "check.h"

#define ID "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"

static const char *from_path(const char *path)
{
	static char id[SONDE_CONTAINER_ID_LEN + 1];

	return sonde_container_id_from_path(path, id) ? id : "";
}

static void layouts(void)
{
	CHECK_STR(from_path("/docker/" ID), ID);
	CHECK_STR(from_path("/system.slice/docker-" ID ".scope"), ID);
	CHECK_STR(from_path("/system.slice/containerd.service/kubepods-burstable-pod1234.slice:cri-containerd:" ID), ID);
	CHECK_STR(from_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-" ID ".scope"), ID);
	CHECK_STR(from_path("/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/" ID), ID);
	CHECK_STR(from_path("/machine.slice/libpod-" ID ".scope/container"), ID);
	CHECK_STR(from_path("/kubepods.slice/crio-" ID ".scope"), ID);
	CHECK_STR(from_path("/k8s.io/" ID), ID);
}

static void not_containers(void)
{
	CHECK_STR(from_path("/"), "");
	CHECK_STR(from_path("/user.slice/user-1000.slice/session-2.scope"), "");
	CHECK_STR(from_path("/process_api/c319fab59e1656e050b449baa14e74f1"), "");
	/* cri-o's monitor lives next to the container, it is not it. */
	CHECK_STR(from_path("/machine.slice/crio-conmon-" ID ".scope"), "");
	/* 65 hex digits are not an ID, nor are 63. */
	CHECK_STR(from_path("/docker/" ID "0"), "");
	CHECK_STR(from_path("/docker/" "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a"), "");
	/* Upper-case hex is not how runtimes write IDs. */
	CHECK_STR(from_path("/docker/3F2A1B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7A8"), "");
}

static void cgroup_file(void)
{
	const char text[] =
		"12:memory:/docker/" ID "\n"
		"1:name=systemd:/docker/" ID "\n"
		"0::/\n";
	const char v2_only[] = "0::/system.slice/docker-" ID ".scope\n";
	const char none[] = "0::/user.slice\n";
	const char colon_path[] = "0::/a:b/cri-containerd:" ID "";
	char id[SONDE_CONTAINER_ID_LEN + 1];

	CHECK(sonde_container_id_from_cgroup_file(text, sizeof(text) - 1, id));
	CHECK_STR(id, ID);
	CHECK(sonde_container_id_from_cgroup_file(v2_only, sizeof(v2_only) - 1, id));
	CHECK(!sonde_container_id_from_cgroup_file(none, sizeof(none) - 1, id));
	CHECK(sonde_container_id_from_cgroup_file(colon_path, sizeof(colon_path) - 1, id));
	CHECK(!sonde_container_id_from_cgroup_file("garbage", 7, id));
	CHECK(!sonde_container_id_from_cgroup_file("", 0, id));
}

static void own_process(void)
{
	/* The test runs outside any container here: "" and no crash. */
	const char *id = sonde_container_of_pid(getpid());

	CHECK(id != NULL);
	CHECK_STR(sonde_container_of_pid(-1), "");
}

int main(void)
{
	RUN(layouts);
	RUN(not_containers);
	RUN(cgroup_file);
	RUN(own_process);
	return CHECK_DONE();
}
