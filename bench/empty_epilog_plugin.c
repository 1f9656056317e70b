/* A SPANK plugin with a job epilog that does nothing: what slurmd spends at the end of every job on any plugin that
 * has a job epilog (it then starts a SPANK epilog process per job). bench/run builds it with cc and measures jobs
 * with it, with kafka_stream.so and with no plugin. */
#include <slurm/spank.h>

SPANK_PLUGIN(ks_bench_empty_epilog, 1);

int slurm_spank_job_epilog(spank_t sp, int ac, char **av) {
    (void)sp;
    (void)ac;
    (void)av;
    return 0;
}
