// kafkajs 2.2.4 arms a timer at a negative delay on every answered request (its throttle deadline
// starts unset), which Node 24 reports once per process as a TimeoutNegativeWarning on stderr. Node
// runs such a timer after 1 ms, as older versions did silently: nothing is wrong, so nothing is
// printed. Every other warning (this one from other code included) is printed as before.
let installed = false;

/** Stops printing kafkajs's TimeoutNegativeWarning in this process (once; later calls do nothing). */
export function hideKafkajsTimerWarning(): void {
  if (installed) return;
  installed = true;
  const printWarning = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning' && warning.stack?.includes('kafkajs')) return;
    for (const print of printWarning) print(warning);
  });
}
