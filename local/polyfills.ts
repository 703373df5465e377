/**
 * What the emulators need from newer Node versions, installed on older ones only.
 *
 * aws-local-stepfunctions 3 calls `Promise.withResolvers` (Node 22) in every Task state. On
 * Node 20 that throws a TypeError inside the state, and a `Catch` on `States.ALL` turns it into
 * an ordinary task failure: the workflow "works" but always compensates. Import this module
 * before the emulator runs anything.
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

type PromiseWithResolvers = PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> };

function installPolyfills(): void {
  const P = Promise as PromiseWithResolvers;
  if (typeof P.withResolvers !== "function") {
    Object.defineProperty(Promise, "withResolvers", {
      configurable: true,
      writable: true,
      value: function withResolvers<T>(): Resolvers<T> {
        let resolve!: Resolvers<T>["resolve"];
        let reject!: Resolvers<T>["reject"];
        const promise = new Promise<T>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      },
    });
  }
}

installPolyfills();
