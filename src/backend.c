/*-------------------------------------------------------------------------
 *
 * backend.c
 *	  The GUC synth.device and the run-time choice of a compute backend: the
 *	  CPU backend (backend_cpu.c), or the CUDA backend in $libdir/synth_cuda.so,
 *	  which is dlopen()ed only when synth.device allows it.
 *
 * The extension never links against CUDA, so it installs and runs where
 * there is none.  The library is probed once per server process; with
 * synth.device = 'auto' a missing library or device falls back to the CPU
 * with one NOTICE, with 'gpu' it is an error.  Failures inside the CUDA
 * backend come back as statuses with a message and are raised here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "backend.h"
#include "synth.h"
#include "synth_cuda.h"

#define SYNTH_CUDA_LIBRARY		"synth_cuda.so"

PG_FUNCTION_INFO_V1(synth_backend);

int			synth_device = SYNTH_DEVICE_AUTO;

static const struct config_enum_entry device_options[] = {
	{"auto", SYNTH_DEVICE_AUTO, false},
	{"cpu", SYNTH_DEVICE_CPU, false},
	{"gpu", SYNTH_DEVICE_GPU, false},
	{NULL, 0, false}
};

/* What the one probe of this process found. */
typedef enum GpuProbeState
{
	GPU_NOT_PROBED,
	GPU_UNAVAILABLE,			/* no library, no driver or no device */
	GPU_READY
} GpuProbeState;

static GpuProbeState gpu_state = GPU_NOT_PROBED;
static char gpu_unavailable_reason[SYNTH_CUDA_ERRMSG_LEN + MAXPGPATH];
static bool cpu_fallback_noticed = false;

static void *cuda_library = NULL;
static const SynthCudaApi *cuda = NULL;
static char gpu_backend_name[300];
static SynthGpu gpu;
static SynthBackend gpu_backend;

/* ---------------------------------------------------------------- GPU failures */

/* A failed operation of the CUDA backend (backend_gpu.c) as an error. */
static void
GpuFailed(const SynthBackend *backend, const char *operation, bool out_of_memory,
		  const char *detail)
{
	if (out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of GPU memory in %s", operation),
				 errdetail("%s", detail),
				 errhint("Train on fewer rows or columns, or set synth.device = 'cpu'.")));
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("CUDA backend failed in %s", operation),
			 errdetail("%s", detail),
			 errhint("Set synth.device = 'cpu' to compute on the CPU.")));
}

/* ---------------------------------------------------------------- probe */

/* Remember why there is no GPU backend, for the NOTICE or the error. */
static void
GpuUnavailable(const char *reason)
{
	strlcpy(gpu_unavailable_reason, reason, sizeof(gpu_unavailable_reason));
	gpu_state = GPU_UNAVAILABLE;
	if (cuda_library != NULL)
		dlclose(cuda_library);
	cuda_library = NULL;
	cuda = NULL;
}

/*
 * Load $libdir/synth_cuda.so and open device 0, once per process.  Nothing
 * here raises an error: whether a missing GPU is one depends on synth.device.
 */
static void
ProbeGpu(void)
{
	char		path[MAXPGPATH];
	char		errmsg_buf[SYNTH_CUDA_ERRMSG_LEN];
	char		device_name[256];
	SynthCudaApiFunc api_func;
	SynthCudaContext *context;
	int			ndevices;

	if (gpu_state != GPU_NOT_PROBED)
		return;

	snprintf(path, sizeof(path), "%s/%s", pkglib_path, SYNTH_CUDA_LIBRARY);
	cuda_library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (cuda_library == NULL)
	{
		const char *why = dlerror();

		GpuUnavailable(psprintf("could not load \"%s\": %s", path,
								why ? why : "unknown error"));
		return;
	}

	api_func = (SynthCudaApiFunc) dlsym(cuda_library, SYNTH_CUDA_ENTRY_POINT);
	if (api_func == NULL)
	{
		GpuUnavailable(psprintf("\"%s\" has no entry point %s", path,
								SYNTH_CUDA_ENTRY_POINT));
		return;
	}
	cuda = api_func();
	if (cuda == NULL || cuda->abi_version != SYNTH_CUDA_ABI_VERSION)
	{
		GpuUnavailable(psprintf("\"%s\" has interface version %d, this synth needs %d; reinstall synth",
								path, cuda ? cuda->abi_version : -1,
								SYNTH_CUDA_ABI_VERSION));
		return;
	}

	if (cuda->probe(&ndevices, device_name, sizeof(device_name),
					errmsg_buf, sizeof(errmsg_buf)) != SYNTH_CUDA_OK)
	{
		GpuUnavailable(errmsg_buf);
		return;
	}
	if (cuda->open(0, &context, errmsg_buf, sizeof(errmsg_buf)) != SYNTH_CUDA_OK)
	{
		GpuUnavailable(errmsg_buf);
		return;
	}

	snprintf(gpu_backend_name, sizeof(gpu_backend_name), "gpu: %s",
			 cuda->device_name(context));
	gpu.api = cuda;
	gpu.cuda = context;
	gpu.failed = GpuFailed;
	synth_backend_gpu_init(&gpu_backend, &gpu, gpu_backend_name);
	gpu_state = GPU_READY;
}

/* ---------------------------------------------------------------- interface */

/* Define synth.device; called from _PG_init. */
void
SynthBackendInit(void)
{
	DefineCustomEnumVariable("synth.device",
							 "Where synth computes: auto, cpu or gpu.",
							 "auto uses a CUDA device when synth_cuda.so and a device are present "
							 "and the CPU otherwise; gpu makes a missing device an error.",
							 &synth_device,
							 SYNTH_DEVICE_AUTO,
							 device_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * The backend that synth.device selects now.  The GPU is probed on first
 * need and the result kept for the life of the process.
 */
const SynthBackend *
synth_backend_get(void)
{
	return synth_backend_for(synth_device);
}

/* The backend of a SynthDevice: a training's "device" option, or synth.device. */
const SynthBackend *
synth_backend_for(int device)
{
	if (device == SYNTH_DEVICE_CPU)
		return synth_backend_cpu();

	ProbeGpu();
	if (gpu_state == GPU_READY)
		return &gpu_backend;

	if (device == SYNTH_DEVICE_GPU)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("synth.device is \"gpu\" but no CUDA device is available"),
				 errdetail("%s", gpu_unavailable_reason),
				 errhint("Set synth.device = 'cpu' (or 'auto'), or install synth built with nvcc "
						 "(synth_cuda.so) on a machine with an NVIDIA driver and device.")));

	if (!cpu_fallback_noticed)
	{
		cpu_fallback_noticed = true;
		ereport(NOTICE,
				(errmsg("synth is computing on the CPU: no CUDA device is available"),
				 errdetail("%s", gpu_unavailable_reason),
				 errhint("Set synth.device = 'cpu' to choose the CPU explicitly.")));
	}
	return synth_backend_cpu();
}

/*
 * Buffers in the backend's memory: device memory where the backend has its
 * own, palloc'd host memory (in CurrentMemoryContext) otherwise.
 *
 * Device memory is not released by a memory context reset; callers free it,
 * also on their error paths (PG_FINALLY).
 */
void *
synth_buffer_alloc(const SynthBackend *backend, size_t bytes)
{
	if (backend->alloc != NULL)
		return backend->alloc(backend, bytes);
	return palloc_extended(bytes == 0 ? 1 : bytes, MCXT_ALLOC_HUGE);
}

void
synth_buffer_free(const SynthBackend *backend, void *buffer)
{
	if (buffer == NULL)
		return;
	if (backend->free != NULL)
		backend->free(backend, buffer);
	else
		pfree(buffer);
}

void
synth_buffer_upload(const SynthBackend *backend, void *buffer,
					const void *host, size_t bytes)
{
	if (backend->to_device != NULL)
		backend->to_device(backend, buffer, host, bytes);
	else if (buffer != host)
		memcpy(buffer, host, bytes);
}

void
synth_buffer_download(const SynthBackend *backend, void *host,
					  const void *buffer, size_t bytes)
{
	if (backend->to_host != NULL)
		backend->to_host(backend, host, buffer, bytes);
	else if (buffer != host)
		memcpy(host, buffer, bytes);
}

/*
 * synth_backend() returns text: "cpu", or "gpu: <device name>", as
 * synth.device selects here and now.
 */
Datum
synth_backend(PG_FUNCTION_ARGS)
{
	const SynthBackend *backend = synth_backend_get();

	PG_RETURN_TEXT_P(cstring_to_text(backend->name));
}
