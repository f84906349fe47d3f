#include "shm/mapping.hpp"

#include <sys/mman.h>

#include <new>

#include <boost/interprocess/exceptions.hpp>

#include "shm/platform.hpp"

namespace forkipc::detail::shm {

boost::interprocess::mapped_region map_shared(int fd, std::size_t size, populate how,
                                              std::error_code& ec) noexcept {
  namespace bip = boost::interprocess;
  ec.clear();
  if (size == 0) {  // mapped_region would read "the whole file" into a 0
    ec = std::make_error_code(std::errc::invalid_argument);
    return {};
  }
  // mapped_region ORs MAP_SHARED into the options it is given on POSIX.
  const bip::map_options_t options = how == populate::yes ? populate_flag : bip::default_map_options;
  try {
    return bip::mapped_region(mappable_fd(fd), bip::read_write, 0, size, nullptr, options);
  } catch (const bip::interprocess_exception& e) {
    const int native = e.get_native_error();
    ec = native != 0 ? std::error_code(native, std::system_category())
                     : std::make_error_code(std::errc::invalid_argument);
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

}  // namespace forkipc::detail::shm
