template <typename Job>
void run_bands(const ouro_host& host, std::uint64_t bands, Job& job) {
  host.parallel_for(host.pool, bands, 1, run_range<Job>, &job);
}
