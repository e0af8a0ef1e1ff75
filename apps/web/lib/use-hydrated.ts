import { useSyncExternalStore } from "react";

const subscribeToNothing = () => () => {};

/**
 * False in the server's HTML and during hydration, true once React has attached the event handlers.
 * A button whose only behaviour is an onClick is a dead button until then: a quick click was lost, and a
 * form submitted early fell back to a native GET with its fields in the URL.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribeToNothing,
    () => true,
    () => false,
  );
}
