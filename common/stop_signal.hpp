// SIGTERM and SIGINT as a request to stop: both tools finish cleanly when asked (the push spools what is not
// confirmed, the sink commits what is durable), so the handler only sets a flag their loops read.
#pragma once
#include <csignal>

namespace ks {

// Set by SIGTERM or SIGINT once install_stop_signal() ran: the only process-wide state, as signals require.
const volatile std::sig_atomic_t& stop_requested();

// Installs the handler for SIGTERM and SIGINT.
void install_stop_signal();

}  // namespace ks
