// A value or the Error that took its place: the one result every asynchronous callback
// and every fallible parser in lwauth passes, instead of "" meaning success,
// std::optional<Error> or a struct whose error field is read only sometimes.
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "lwauth/error.hpp"

namespace lwauth {

template <class T>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<std::decay_t<T>, Error>, "a Result of an Error is ambiguous");

  public:
    using value_type = T;

    // Implicit on purpose: `return value;` and `return Error(...);` both read naturally.
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    static Result failure(Errc code, const std::string& message) {
        return Result(Error(code, message));
    }

    [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /// The value; throws the error when there is none.
    T& value() & {
        throw_if_error();
        return std::get<0>(v_);
    }
    const T& value() const& {
        throw_if_error();
        return std::get<0>(v_);
    }
    T&& value() && {
        throw_if_error();
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    /// The error; only when !ok().
    [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

  private:
    void throw_if_error() const {
        if (!ok()) {
            throw std::get<1>(v_);
        }
    }

    std::variant<T, Error> v_;
};

/// Success without a value, or the error.
template <>
class [[nodiscard]] Result<void> {
  public:
    using value_type = void;

    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT

    static Result success() { return {}; }
    static Result failure(Errc code, const std::string& message) {
        return Result(Error(code, message));
    }

    [[nodiscard]] bool ok() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    /// Throws the error, if any.
    void value() const {
        if (error_) {
            throw *error_;
        }
    }
    [[nodiscard]] const Error& error() const { return *error_; }

  private:
    std::optional<Error> error_;
};

/// The callback of an asynchronous operation: called exactly once, with the result.
template <class T>
using Done = std::function<void(Result<T>)>;

/// Runs `f`, turning an Error it throws into the result's error (anything else thrown
/// goes on: a bug is not a result).
template <class F>
auto capture(F&& f) -> Result<std::invoke_result_t<F>> {
    using T = std::invoke_result_t<F>;
    try {
        if constexpr (std::is_void_v<T>) {
            std::forward<F>(f)();
            return Result<void>::success();
        } else {
            return Result<T>(std::forward<F>(f)());
        }
    } catch (const Error& e) {
        return Result<T>(e);
    }
}

/// Runs `step`, an asynchronous step that ends by calling `done` (now or later); an Error
/// it throws before that goes to `done` instead. `done` must be the last thing `step`
/// calls: then `done` is called exactly once either way.
template <class T, class F>
void settle(const Done<T>& done, F&& step) {
    Result<void> started = capture(std::forward<F>(step));
    if (!started.ok()) {
        if (!done) {
            throw started.error();  // `step` handed `done` on (then()), then threw: a bug
        }
        done(started.error());
    }
}

/// The callback of an operation whose value the next step needs: with the value it runs
/// `next(value)` (or `next()` for Result<void>) as settle() runs a step; with an error it
/// passes the error on to `done`. A `next` that takes a `Done<U>&` as well,
/// `next(value, done)` (or `next(done)`), is handed the `done` this callback holds, so
/// that it can move it on instead of holding a copy of its own: copying a Done copies
/// every continuation it holds. After moving it on, `next` must not throw an Error (there
/// is no `done` left to take it): as settle() asks, passing `done` on is its last act.
template <class T, class U, class F>
Done<T> then(Done<U> done, F next) {
    return [done = std::move(done), next = std::move(next)](Result<T> result) mutable {
        if (!result.ok()) {
            done(result.error());
            return;
        }
        settle(done, [&] {
            if constexpr (std::is_void_v<T>) {
                if constexpr (std::is_invocable_v<F&, Done<U>&>) {
                    next(done);
                } else {
                    next();
                }
            } else if constexpr (std::is_invocable_v<F&, T&&, Done<U>&>) {
                next(std::move(result).value(), done);
            } else {
                next(std::move(result).value());
            }
        });
    };
}

}  // namespace lwauth
