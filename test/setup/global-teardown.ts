import { releaseStack } from './stack-holder';

/** Stops the run's stack and waits until every component's process group is gone. */
export default async function globalTeardown(): Promise<void> {
  await releaseStack()?.stop();
}
