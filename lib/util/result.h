// Result<T>: a value or a Status, never both. TRY() propagates errors the
// way SerenityOS's TRY does, so error paths read like the happy path.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

#include "util/status.h"

template <typename T>
class [[nodiscard]] Result {
public:
    Result(const T& value) : m_status(Status::Ok) { new (&m_storage) T(value); }
    Result(T&& value) : m_status(Status::Ok) { new (&m_storage) T(std::move(value)); }
    // Status::Ok carries no value: a Result<T> built from it would claim a
    // value it does not hold (and destroy garbage), so it is an error
    // instead — InvalidArgument, the status of a call that could never be
    // right.
    Result(Status error) : m_status(error == Status::Ok ? Status::InvalidArgument : error) {}
    Result(const Result& other) : m_status(other.m_status) {
        if (ok()) new (&m_storage) T(other.value());
    }
    Result(Result&& other) : m_status(other.m_status) {
        if (ok()) new (&m_storage) T(std::move(other.value()));
    }
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result() {
        if (ok()) value().~T();
    }

    bool ok() const { return m_status == Status::Ok; }
    Status status() const { return m_status; }
    T& value() { return *reinterpret_cast<T*>(&m_storage); }
    const T& value() const { return *reinterpret_cast<const T*>(&m_storage); }
    T release_value() { return std::move(value()); }
    T value_or(T fallback) const { return ok() ? value() : fallback; }

private:
    Status m_status;
    alignas(T) unsigned char m_storage[sizeof(T)];
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() : m_status(Status::Ok) {}
    Result(Status s) : m_status(s) {}
    bool ok() const { return m_status == Status::Ok; }
    Status status() const { return m_status; }
    void release_value() {}

private:
    Status m_status;
};

// TRY(expr): evaluates a Result; on error returns its Status from the
// enclosing function, otherwise yields the value.
#define TRY(expr)                                           \
    ({                                                      \
        auto _try_result = (expr);                          \
        if (!_try_result.ok()) return _try_result.status(); \
        _try_result.release_value();                        \
    })
