import {
  useId,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { cn } from "./cn.ts";

const control =
  "block w-full rounded-md border border-slate-300 bg-white px-3 text-sm text-slate-900 shadow-xs placeholder:text-slate-400 focus:border-sky-600 focus:outline-2 focus:outline-sky-600/30 disabled:bg-slate-50";

interface TFieldProps {
  label: string;
  /** Keeps the label for screen readers but hides it, for compact toolbars. */
  hideLabel?: boolean;
}

/** A label tied to the control that `children` renders with the given id (the caller's, or a generated one). */
function Labelled({
  label,
  hideLabel,
  className,
  id,
  children,
}: TFieldProps & { className?: string; id?: string; children: (id: string) => ReactNode }) {
  const generated = useId();
  const controlId = id ?? generated;
  return (
    <div className={className}>
      <label
        htmlFor={controlId}
        className={cn("mb-1 block text-sm font-medium text-slate-700", hideLabel && "sr-only")}
      >
        {label}
      </label>
      {children(controlId)}
    </div>
  );
}

export function Input({
  label,
  hideLabel,
  className,
  id,
  ...props
}: TFieldProps & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Labelled label={label} hideLabel={hideLabel} className={className} id={id}>
      {(controlId) => <input id={controlId} className={cn(control, "h-10")} {...props} />}
    </Labelled>
  );
}

export function Select({
  label,
  hideLabel,
  className,
  id,
  children,
  ...props
}: TFieldProps & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <Labelled label={label} hideLabel={hideLabel} className={className} id={id}>
      {(controlId) => (
        <select id={controlId} className={cn(control, "h-10 pr-8")} {...props}>
          {children}
        </select>
      )}
    </Labelled>
  );
}

export function Textarea({
  label,
  hideLabel,
  className,
  id,
  ...props
}: TFieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <Labelled label={label} hideLabel={hideLabel} className={className} id={id}>
      {(controlId) => (
        <textarea id={controlId} className={cn(control, "py-2 font-mono text-xs")} {...props} />
      )}
    </Labelled>
  );
}
