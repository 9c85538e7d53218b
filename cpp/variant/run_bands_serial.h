template <typename Job>
void run_bands(const ouro_host&, std::uint64_t bands, Job& job) {
  job.run(0, bands);
}
