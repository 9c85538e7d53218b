// Runs job.run over [0, count): the genome's split of work across the host's pool.
template <typename Job>
void run_items(const ouro_host&, std::uint64_t count, Job& job) {
  job.run(0, count);
}
