// Runs job.run over [0, count): the genome's split of work across the host's pool.
template <typename Job>
void run_items(const ouro_host& host, std::uint64_t count, Job& job) {
  Bands<Job> bands{&job, count, host.threads > 0 ? host.threads : 1};
  host.parallel_for(host.pool, bands.bands, 1, run_range<Bands<Job>>, &bands);
}
