// Static consumer-group membership (Kafka's group.instance.id, KIP-345), so that a sink restarted after a crash gets
// its partitions back at once instead of waiting for the dead member's session to expire (session.timeout.ms, 45 s
// by default; a new member's join also waits for it).
//
// The id is "kafka-stream-sink.<host>.<instance>", and ".<n>" from the second sink on: two members of one group
// must never share an id (the broker fences one of them). Each sink holds a host-wide lock on its id while it runs,
// an abstract AF_UNIX socket name that the kernel releases when the process ends, even by SIGKILL; a second sink
// started on the same host with the same group and instance name takes the next free <n>, so a crashed sink that is
// restarted takes the first free id, its own.
// The price: a static member sends no LeaveGroup when it stops, so the partitions of a sink that is stopped for good
// go to the other sinks only after session.timeout.ms.
#pragma once
#include <string>
#include <string_view>

#include "result.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

// "kafka-stream-sink.<host>.<instance>" (slot 1) or with ".<slot>" appended; characters Kafka does not accept in
// an id ([A-Za-z0-9._-]) become '_'.
std::string static_member_id(std::string_view host, std::string_view instance, unsigned slot);

// Instance names: 1-64 characters of [A-Za-z0-9._-] (they end up in the id and in systemd unit names).
Result<void> check_instance_name(std::string_view instance);

class StaticMemberLock {
public:
    static constexpr unsigned kMaxSlots = 64;
    // Takes the first id of (host, instance) that no other process on this host holds for `group`.
    static Result<StaticMemberLock> acquire(std::string_view group, std::string_view host, std::string_view instance);
    const std::string& id() const { return id_; }

private:
    StaticMemberLock(UniqueFd fd, std::string id) : fd_(std::move(fd)), id_(std::move(id)) {}
    UniqueFd fd_;  // bound to the lock's name for as long as the sink runs
    std::string id_;
};

// This host's name up to the first '.'.
std::string short_host_name();

}  // namespace ks::sink
