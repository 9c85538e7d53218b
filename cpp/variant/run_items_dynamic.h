constexpr std::uint64_t GRAIN_ROWS = VARIANT_GRAIN_ROWS;

// Runs job.run over [0, count): the genome's split of work across the host's pool.
template <typename Job>
void run_items(const ouro_host& host, std::uint64_t count, Job& job) {
  host.parallel_for(host.pool, count, GRAIN_ROWS, run_range<Job>, &job);
}
