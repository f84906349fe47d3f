#include <forkipc/shared_segment.hpp>

#include <fcntl.h>

#include <boost/version.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include <forkipc/error.hpp>

#include "size_text.hpp"
#include "shm/mapping.hpp"
#include "shm/platform.hpp"

namespace forkipc {
namespace {

namespace bip = boost::interprocess;

// forkipc's header at the start of a segment's memfd. A memfd is only ever received from a
// process of the same program family, but open() must tell a segment from any other memfd a
// peer might pass, and a segment from a build whose managed memory it cannot read: the
// managed_external_buffer's layout is Boost's, so its version is part of the header.
struct segment_header {
  char magic[16];
  std::uint32_t version;
  std::uint32_t boost_version;
  std::uint64_t header_size;
  std::uint64_t size;  // bytes of managed memory after the header
};
static_assert(sizeof(segment_header) <= shared_segment::header_size);

constexpr char segment_magic[16] = "forkipc segment";
constexpr std::uint32_t segment_version = 1;

std::size_t min_managed_size() { return bip::managed_external_buffer::segment_manager::get_min_size(); }

std::error_code invalid(std::string& why, std::string reason) {
  why = std::move(reason);
  return errc::invalid_segment;
}

}  // namespace

shared_segment::shared_segment() noexcept = default;

shared_segment::shared_segment(handle fd, bip::mapped_region region, bip::managed_external_buffer memory) noexcept
    : fd_(std::move(fd)), region_(std::move(region)), memory_(std::move(memory)) {}

std::size_t shared_segment::size() const noexcept { return fd_ ? region_.get_size() - header_size : 0; }

shared_segment shared_segment::try_create(std::size_t size, std::error_code& ec, std::string& why) {
  ec.clear();
  if (size < min_managed_size()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    why = "a managed_external_buffer needs at least " + std::to_string(min_managed_size()) + " bytes";
    return {};
  }
  if (size > std::numeric_limits<std::size_t>::max() - header_size) {
    ec = std::make_error_code(std::errc::file_too_large);
    why = "more than a file can hold";
    return {};
  }
  detail::unique_fd fd = detail::shm::create_shared_file("forkipc-segment", header_size + size,
                                                         detail::shm::sealing::size, ec);
  if (ec) {
    why = "cannot create its shared memory";
    return {};
  }
  auto region = detail::shm::map_shared(fd.get(), header_size + size, detail::shm::populate::no, ec);
  if (ec) {
    why = "cannot map it";
    return {};
  }
  auto* base = static_cast<char*>(region.get_address());
  segment_header header{};
  std::memcpy(header.magic, segment_magic, sizeof header.magic);
  header.version = segment_version;
  header.boost_version = BOOST_VERSION;
  header.header_size = header_size;
  header.size = size;
  std::memcpy(base, &header, sizeof header);
  try {
    bip::managed_external_buffer memory(bip::create_only, base + header_size, size);
    return shared_segment(std::move(fd), std::move(region), std::move(memory));
  } catch (const bip::interprocess_exception& e) {
    ec = std::make_error_code(std::errc::invalid_argument);
    why = std::string("Boost.Interprocess cannot build a managed_external_buffer in it: ") + e.what();
  }
  return {};
}

shared_segment shared_segment::create(std::size_t size, std::error_code& ec) {
  std::string why;
  return try_create(size, ec, why);
}

shared_segment shared_segment::create(std::size_t size) {
  std::error_code ec;
  std::string why;
  shared_segment segment = try_create(size, ec, why);
  if (ec) throw error(ec, "cannot create a shared segment of " + detail::size_text(size) + ": " + why);
  return segment;
}

shared_segment shared_segment::try_open(handle h, std::error_code& ec, std::string& why) {
  ec.clear();
  if (!h) {
    ec = invalid(why, "the handle is empty");
    return {};
  }
  const auto file_size = detail::shm::mappable_size(h.fd(), why);
  if (!file_size) {
    ec = errc::invalid_segment;
    return {};
  }
  if (*file_size < header_size) {
    ec = invalid(why, "it holds " + std::to_string(*file_size) + " bytes, fewer than forkipc's " +
                          std::to_string(header_size) + "-byte segment header");
    return {};
  }
  // Every byte read below lies inside the file, whose size cannot change any more: no SIGBUS.
  auto region = detail::shm::map_shared(h.fd(), *file_size, detail::shm::populate::no, ec);
  if (ec) {
    why = "cannot map it";
    return {};
  }
  auto* base = static_cast<char*>(region.get_address());
  segment_header header;
  std::memcpy(&header, base, sizeof header);
  if (std::memcmp(header.magic, segment_magic, sizeof header.magic) != 0) {
    ec = invalid(why, "it does not start with forkipc's segment header (shared memory of something else?)");
    return {};
  }
  if (header.version != segment_version) {
    ec = invalid(why, "its header is of version " + std::to_string(header.version) +
                          ", and this forkipc reads version " + std::to_string(segment_version));
    return {};
  }
  if (header.boost_version != BOOST_VERSION) {
    ec = invalid(why, "it was made with Boost " + std::to_string(header.boost_version) +
                          ", whose managed memory this build, with Boost " + std::to_string(BOOST_VERSION) +
                          ", may not read the same");
    return {};
  }
  if (header.header_size != header_size || header.size != *file_size - header_size) {
    ec = invalid(why, "its header says it holds " + std::to_string(header.header_size) + " + " +
                          std::to_string(header.size) + " bytes, but its file holds " +
                          std::to_string(*file_size));
    return {};
  }
  if (header.size < min_managed_size()) {
    ec = invalid(why, "its managed memory of " + std::to_string(header.size) +
                          " bytes is too small for a managed_external_buffer");
    return {};
  }
  bip::managed_external_buffer memory(bip::open_only, base + header_size, header.size);
  if (memory.get_size() != header.size) {
    ec = invalid(why, "its managed memory says it holds " + std::to_string(memory.get_size()) +
                          " bytes, its header " + std::to_string(header.size));
    return {};
  }
  return shared_segment(std::move(h), std::move(region), std::move(memory));
}

shared_segment shared_segment::open(handle h, std::error_code& ec) {
  std::string why;
  return try_open(std::move(h), ec, why);
}

shared_segment shared_segment::open(handle h) {
  const int fd = h.fd();
  std::error_code ec;
  std::string why;
  shared_segment segment = try_open(std::move(h), ec, why);
  if (ec) throw error(ec, "cannot open a shared segment from descriptor " + std::to_string(fd) + ": " + why);
  return segment;
}

handle shared_segment::share(std::error_code& ec) const {
  ec.clear();
  handle copy(::fcntl(fd_.fd(), F_DUPFD_CLOEXEC, 0));
  if (!copy) ec = std::error_code(errno, std::system_category());
  return copy;
}

handle shared_segment::share() const {
  std::error_code ec;
  handle copy = share(ec);
  if (ec) throw error(ec, "cannot share a shared segment (duplicating its descriptor)");
  return copy;
}

}  // namespace forkipc
