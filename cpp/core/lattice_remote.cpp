// LatticeCore's side of confined kernel hosts: connecting one as a module,
// and what the runner does when one fails. The host itself is
// crates/kernel-host; the channel is remote_kernel.h.
#include "core/lattice_core.h"
#include "core/module_registry.h"
#include "core/remote_kernel.h"

#include <unistd.h>

namespace ouro {

int LatticeCore::open_host_workspace() const {
  return ouro::open_host_workspace(host_workspace_layout(level_bytes(), geometry_.cells).bytes);
}

KernelModule::LoadResult LatticeCore::connect_remote(int channel_fd, int workspace_fd, pid_t pid,
                                                     const std::string& path, std::uint64_t ready_timeout_ms,
                                                     std::uint64_t step_timeout_ms) {
  const void* segment = state_->segment_header();
  if (segment == nullptr) {
    kill_and_wait(pid, ready_timeout_ms);
    ::close(channel_fd);
    ::close(workspace_fd);
    return {nullptr, path,
            "a confined module needs a lattice in a state segment (its kernel host steps the segment), and this "
            "lattice has none"};
  }
  RemoteKernel::ConnectResult connected = RemoteKernel::connect(channel_fd, workspace_fd, pid, segment, level_bytes(),
                                                                geometry_.cells, ready_timeout_ms, step_timeout_ms);
  if (!connected.kernel) return {nullptr, path, connected.error};
  std::shared_ptr<const KernelModule> module = KernelModule::remote(path, std::move(connected.kernel));
  ModuleRegistry::instance().add(module);
  return {module, path, {}};
}

RemoteKernel::ReadoutReply LatticeCore::remote_readout(RemoteKernel& remote, const void* field, std::int8_t* digits) {
  if (remote.segment() == state_->segment_header()) {
    if (field == state_->level(0)) return remote.readout_live(0, digits);
    if (field == state_->level(1)) return remote.readout_live(1, digits);
  }
  return remote.readout_copy(field, digits);
}

void LatticeCore::abandon_readout_host() {
  apply_swap(Slot::Readout, nullptr);
  const RemoteKernel* fallback = slots_.live(Slot::Readout).remote();
  if (fallback != nullptr && fallback->failed()) apply_swap(Slot::Readout, base_step_module_);
}

void LatticeCore::abandon_host(const std::string& reason) {
  // Before the next step: a snapshot of what the host left behind could
  // otherwise pass the watchdog (a step written but never reported keeps
  // the energy exact) and become the restore point.
  HostFailure failure{reason, recover_now(Slot::Step)};
  // Last-known-good may be a confined module whose host has failed since:
  // then the lattice's own first kernel, which runs here and needs no host.
  const RemoteKernel* fallback = slots_.live(Slot::Step).remote();
  if (fallback != nullptr && fallback->failed()) {
    const SwapOutcome to_base = apply_swap(Slot::Step, base_step_module_);
    failure.recovery.rollback.to_id = to_base.to_id;
    failure.recovery.rollback.to_name = to_base.to_name;
  }
  failure.recovered_ns = monotonic_ns();
  if (on_host_failure_) on_host_failure_(failure);
}

}  // namespace ouro
